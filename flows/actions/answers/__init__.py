"""Answers about a procedure: what each aspect says and how it fits one phone screen."""
