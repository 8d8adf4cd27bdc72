"""Analysis of a circuit's connectivity: alignment, motifs, graphs, physiology comparison, plots.

The commands live in :mod:`~selfassembly.analysis.inspect` (``selfassembly inspect``) and
:mod:`~selfassembly.analysis.compare` (``selfassembly compare``); they are not imported here so
that importing the package does not select a matplotlib backend.
"""
from .alignment import angle, cross_stream_angles, effective_feedback, forward_feedback_angles, gradient_alignment
from .graph import circuit_graph, reciprocity, triad_census, write_graphml
from .motifs import brute_force_census, loop_count, motif_census, motif_statistics, null_census, rewire
from .physiology import (
    SONG_DENSITY,
    heterosynaptic_conservation,
    lognormal_fit,
    loop_index,
    model_statistics,
    reciprocity_ratio,
    triad_census_ratios,
)
from .physiology_data import STATISTICS, PhysiologyDataError, load_user_data, shipped_data
from .threshold import density_threshold, strong_synapses
from .timecourse import alignment_timecourse, motif_timecourse

__all__ = [
    # alignment (MODEL.md "what self-assembled means")
    "angle", "cross_stream_angles", "effective_feedback", "forward_feedback_angles", "gradient_alignment",
    # connections, motifs, graph
    "density_threshold", "strong_synapses", "circuit_graph", "reciprocity", "triad_census", "write_graphml",
    "brute_force_census", "loop_count", "motif_census", "motif_statistics", "null_census", "rewire",
    "alignment_timecourse", "motif_timecourse",
    # physiology
    "SONG_DENSITY", "heterosynaptic_conservation", "lognormal_fit", "loop_index", "model_statistics",
    "reciprocity_ratio", "triad_census_ratios", "STATISTICS", "PhysiologyDataError", "load_user_data",
    "shipped_data",
]
