"""Graphviz diagrams of a model: the module tree and the data flow. Pure but for running `dot`."""
