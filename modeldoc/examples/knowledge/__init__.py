"""Knowledge entries for the example's own layers: ``--knowledge modeldoc.examples.knowledge``."""
