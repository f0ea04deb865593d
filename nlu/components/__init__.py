"""Custom Rasa components, referenced by module path from config.yml."""
