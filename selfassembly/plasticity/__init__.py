"""Plasticity rules and the named presets of MODEL.md."""
from .presets import DEFAULT_PARAMS, PRESET_NAMES, PRESETS, RuleSet, make_preset
from .rules import CrossStreamRule, FeedbackRule, ForwardRule

__all__ = ["DEFAULT_PARAMS", "PRESET_NAMES", "PRESETS", "RuleSet", "make_preset", "CrossStreamRule", "FeedbackRule", "ForwardRule"]
