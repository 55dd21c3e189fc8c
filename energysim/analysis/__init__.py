"""Analysis: exact counts and bounds computed from the model, without simulation."""
