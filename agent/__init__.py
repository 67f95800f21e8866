"""Assistants: schema and loading, prompts, LLM providers, tools."""
