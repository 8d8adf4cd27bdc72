"""selfassembly: a Brian2 simulator of the self-assembling four-synapse learning circuit."""
__version__ = "0.1.0"
