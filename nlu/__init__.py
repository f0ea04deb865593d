"""Vietnamese understanding: a Rasa NLU model (config.yml) with our own components."""
