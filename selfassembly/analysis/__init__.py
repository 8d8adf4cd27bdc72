"""Analysis of a circuit's connectivity: alignment, motifs, graphs, physiology comparison, plots."""
from .alignment import angle, cross_stream_angles, effective_feedback, forward_feedback_angles, gradient_alignment

__all__ = ["angle", "cross_stream_angles", "effective_feedback", "forward_feedback_angles", "gradient_alignment"]
