"""Example models that modeldoc's own documentation describes."""
