"""Analysis of a circuit's connectivity: alignment, motifs, graphs, physiology comparison, plots."""
from .alignment import angle, cross_stream_angles, effective_feedback, forward_feedback_angles, gradient_alignment

__all__ = ["angle", "cross_stream_angles", "effective_feedback", "forward_feedback_angles", "gradient_alignment"]

# four-synapse motif census, circuit graph and time courses (selfassembly inspect)
from .graph import circuit_graph, reciprocity, triad_census, write_graphml  # noqa: E402
from .motifs import brute_force_census, loop_count, motif_census, motif_statistics, null_census, rewire  # noqa: E402
from .timecourse import alignment_timecourse, motif_timecourse  # noqa: E402

__all__ += ["circuit_graph", "reciprocity", "triad_census", "write_graphml", "brute_force_census", "loop_count",
            "motif_census", "motif_statistics", "null_census", "rewire", "alignment_timecourse", "motif_timecourse"]

# physiology statistics and data (the `compare` command itself: selfassembly.analysis.compare)
from .physiology import (  # noqa: E402
    SONG_DENSITY,
    heterosynaptic_conservation,
    lognormal_fit,
    loop_index,
    model_statistics,
    reciprocity_ratio,
    triad_census_ratios,
)
from .physiology_data import STATISTICS, PhysiologyDataError, load_user_data, shipped_data  # noqa: E402

__all__ += ["SONG_DENSITY", "heterosynaptic_conservation", "lognormal_fit", "loop_index",
            "model_statistics", "reciprocity_ratio", "triad_census_ratios", "STATISTICS", "PhysiologyDataError",
            "load_user_data", "shipped_data"]
