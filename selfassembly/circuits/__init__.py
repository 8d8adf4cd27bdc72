"""Populations, connectivity, Brian2 network building and time modes."""
from .connectivity import Connectivity, initial_weights
from .modes import Dynamic, SampleClocked, make_mode
from .network import Circuit, DivergenceError, Stimulus, build_circuit, configure_target

__all__ = ["Connectivity", "initial_weights", "Dynamic", "SampleClocked", "make_mode", "Circuit",
           "DivergenceError", "Stimulus", "build_circuit", "configure_target"]
