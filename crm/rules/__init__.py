"""Automation rules: JSON files of trigger, conditions and actions, run after calls, in calls
(BANT answers), on people's changes and in sweeps."""
