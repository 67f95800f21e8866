"""Post-call analysis: summary, sentiment, intent, outcome, BANT, structured data."""
