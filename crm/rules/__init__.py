"""Automation rules: JSON files of trigger, conditions and actions, run after calls and sweeps."""
