"""Assistants: files and schema, prompts and variables, phrases, LLMs, tools, the assistants API."""
