"""Mutation check: plant known bugs one at a time and see whether the tests catch them.

Not part of the test suite (it runs the tests once per mutant: minutes). Run it after
changing the tests or the code they guard::

    nice -n 10 .venv/bin/python tools/mutate.py            # every mutant
    nice -n 10 .venv/bin/python tools/mutate.py verdict    # mutants whose id contains "verdict"
    nice -n 10 .venv/bin/python tools/mutate.py --explain lm-   # B's loop mirror, with each catch's reason
    .venv/bin/python tools/mutate.py --list                # the list, nothing run

Each mutant is (id, file, exact old text, new text, tests to run): a single-point bug of the
kind that changes a result a user reports. The repository is copied once to a scratch folder
(the working tree is never touched); each mutant is applied there, the listed tests run against
that copy (``PYTHONPATH`` puts it first), and the file is restored. A mutant is *caught* when
the tests fail, *missed* when they pass, and *stale* when its old text is no longer in the file
exactly once (the code moved: update the entry). First every distinct test list runs once on the
unmutated copy: a list that fails there would "catch" every mutant, so its mutants are reported
*invalid* instead (fix the tests). ``--explain`` prints each catch's first error line, which tells
a value check from a crash (a transposed matrix often fails by shape alone). The exit status is
the number of mutants not caught.

Issue 21 seeded the list with the 21 bugs a first audit found the suite blind to, issue 16
(item 8) added B's loop mirror (ids ``lm-``: its sign, transposes, U on the wrong side, one engine
skipping it, ablations losing it, eta_b and lambda_b, the numpy engine's noise stream); keep adding
one for every bug found in review. The whole list takes about 15 minutes on two loaded cores. Entries that name
tests/model_reference.py plant the bug in the tests' own transcription of MODEL.md: they check
that the transcription is held against something written independently of it.

``tests`` may hold pytest options (``-k EXPR``) as separate items; keep each list short.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    old: str
    new: str
    tests: tuple
    why: str = ""


def M(id, file, old, new, tests, why=""):
    return Mutant(id, file, old, new, tuple(tests.split()) if isinstance(tests, str) else tuple(tests), why)


T_PV = "tests/test_planted_verdict.py"
T_PR = "tests/test_planted_rules.py"
T_PRF = "tests/test_planted_run_folder.py"
T_PA = "tests/test_planted_accuracy.py"
T_PC = "tests/test_planted_compare.py"
T_PP = "tests/test_planted_physiology.py"
T_PS = "tests/test_planted_sweep.py"
T_PLM = "tests/test_planted_loop_mirror.py"
T_RC = "tests/test_reciprocal.py"
#: the loop mirror against the transcription with square B and U (a transpose passes by shape)
T_PLM_NP_SQ = [T_PLM + "::test_numpy_loop_mirror_matches_reference_at_non_default_lam_b", "-k", "square"]
T_PLM_CIRC_SQ = [T_PLM + "::test_circuit_loop_mirror_matches_reference_at_non_default_lam_b", "-k", "square"]
#: the loop mirror's tests: Brian2 against the transcription (weight_mirror: U = I; four_synapse_fixed_cross:
#: random U), the numpy engine against the mirror's fixed point, and the two engines against each other
#: (at eta_b, lambda_b away from their defaults)
T_CIRC_LM = ["tests/test_circuit.py::test_plasticity_steps_match_numpy", "-k", "weight_mirror or fixed_cross"]
T_LM_FP = "tests/test_loop_mirror.py::test_mirror_reaches_its_fixed_point"
T_ENG_LM = ["tests/test_engines.py::test_engines_agree_for_every_preset", "-k", "weight_mirror or fixed_cross"]
F_RULES = "selfassembly/plasticity/rules.py"
F_NET = "selfassembly/circuits/network.py"
F_NP = "selfassembly/circuits/numpy_engine.py"
F_REF = "tests/model_reference.py"
F_PRESETS = "selfassembly/plasticity/presets.py"
F_PHASES = "selfassembly/plasticity/phases.py"
T_PH = "tests/test_phases.py"

MUTANTS = [
    # ---- verdict (issue 21) --------------------------------------------------------------
    M("verdict-null-ff-on-B", "selfassembly/analysis/verdict.py",
      'ff[l][k] = angle(w[f"W{l}"].T, effective_feedback(w, l - 1))', 'ff[l][k] = angle(w[f"W{l}"].T, w[f"B{l}"])',
      T_PV, "forward-feedback null on B instead of M = V B U"),
    M("verdict-null-without-masks", "selfassembly/analysis/inspect.py",
      "return random_null(list(ref.sizes), masks, n_draws, seed)", "return random_null(list(ref.sizes), {}, n_draws, seed)",
      T_PV, "the verdict's null drawn without the circuit's masks"),
    M("verdict-null-default-draws-inspect", "selfassembly/analysis/inspect.py",
      "verdicts = seed_verdicts(entries_by_preset, _null_for(loaded, n_draws, seed), alpha)",
      "verdicts = seed_verdicts(entries_by_preset, _null_for(loaded, N_DRAWS, seed), alpha)",
      T_PV, "inspect_results ignores the number of draws asked for"),
    M("verdict-null-default-draws-seeds", "selfassembly/analysis/inspect.py",
      "return seed_verdicts(runs, _null_for(loaded, n_draws, seed), alpha), seeds",
      "return seed_verdicts(runs, _null_for(loaded, N_DRAWS, seed), alpha), seeds",
      T_PV, "across-seed verdict ignores the number of draws asked for"),
    M("verdict-first-ablation-only", "selfassembly/analysis/verdict.py",
      'for a, tests in res["ablations"].items():', 'for a, tests in list(res["ablations"].items())[:1]:',
      T_PV, "only the first matched ablation decides"),
    M("verdict-ablation-present-first-only", "selfassembly/analysis/verdict.py",
      'res["missing_ablations"] = [a for a in ablations if a not in present]',
      'present = present[:1]\n        res["missing_ablations"] = [a for a in ablations if a not in present]',
      T_PV, "only the first matched ablation is paired"),
    M("verdict-null-p-strict", "selfassembly/analysis/verdict.py",
      "np.sum(null <= observed)", "np.sum(null < observed)", T_PV,
      "ties with the null counted for the circuit (a degenerate null of all-equal angles)"),
    M("verdict-p-max-is-min", "selfassembly/analysis/verdict.py",
      '{"p_max": max(null_p_value(', '{"p_max": min(null_p_value(', T_PV + " tests/test_verdict.py",
      "the best seed's p-value instead of the worst"),
    M("verdict-ablation-sign", "selfassembly/analysis/verdict.py",
      'if n_seeds > 1 and not d["high"] < 0:', 'if n_seeds > 1 and not d["low"] < 0:',
      T_PV + " tests/test_verdict.py", "the interval's low end instead of its high end decides"),
    # ---- physiology intervals (issue 21) ---------------------------------------------------
    M("physiology-sigma-one-sided", "selfassembly/analysis/physiology.py",
      "    a = (1 - level) / 2\n", "    a = 1 - level\n", T_PP, "chi-square interval of the model's sigma one-sided"),
    M("physiology-sigma-dof-n", "selfassembly/analysis/physiology.py",
      "    dof = n - 1\n    a = (1 - level) / 2", "    dof = n\n    a = (1 - level) / 2", T_PP,
      "n instead of n - 1 degrees of freedom in the model's sigma interval"),
    M("physiology-data-sigma-dof-n", "selfassembly/analysis/physiology_data.py",
      "    dof = n - 1\n    lo = sigma", "    dof = n\n    lo = sigma", T_PP,
      "n instead of n - 1 degrees of freedom in Song's sigma interval"),
    M("physiology-data-sigma-one-sided", "selfassembly/analysis/physiology_data.py",
      "lo = sigma * math.sqrt(dof / stats.chi2.ppf(0.975, dof))", "lo = sigma * math.sqrt(dof / stats.chi2.ppf(0.95, dof))",
      T_PP, "one-sided quantile in Song's sigma interval"),
    M("physiology-data-sln-one-sided", "selfassembly/analysis/physiology_data.py",
      "m, half = t_interval(x, 0.95)", "m, half = t_interval(x, 0.90)", T_PP,
      "one-sided t quantile in the SLN interval (t_0.95: a two-sided 90% interval)"),
    # ---- the one t-interval (selfassembly/analysis/statistics.py; issue 21's four copies) ----------
    M("statistics-t-dof-n", "selfassembly/analysis/statistics.py",
      "stats.t.ppf(0.5 + confidence / 2, x.size - 1)", "stats.t.ppf(0.5 + confidence / 2, x.size)",
      T_PP + " tests/test_statistics.py", "n instead of n - 1 degrees of freedom in the t-interval"),
    M("statistics-t-one-sided", "selfassembly/analysis/statistics.py",
      "stats.t.ppf(0.5 + confidence / 2, x.size - 1)", "stats.t.ppf(confidence, x.size - 1)",
      T_PP + " tests/test_statistics.py", "a one-sided quantile in the t-interval"),
    M("statistics-normal-quantile", "selfassembly/analysis/statistics.py",
      "stats.t.ppf(0.5 + confidence / 2, x.size - 1)", "stats.norm.ppf(0.5 + confidence / 2)",
      T_PP + " tests/test_statistics.py", "the normal quantile instead of Student's t"),
    M("statistics-se-over-n", "selfassembly/analysis/statistics.py",
      "np.std(x, ddof=1) / math.sqrt(x.size)", "np.std(x, ddof=1) / x.size",
      "tests/test_statistics.py " + T_PV, "the standard error divided by n instead of sqrt(n)"),
    M("statistics-sd-ddof-0", "selfassembly/analysis/statistics.py",
      "np.std(x, ddof=1) / math.sqrt(x.size)", "np.std(x) / math.sqrt(x.size)",
      "tests/test_statistics.py " + T_PV, "the seeds' spread with n instead of n - 1 in the denominator"),
    M("statistics-paired-unpaired", "selfassembly/analysis/statistics.py",
      "mean, half = t_interval(a - b, confidence)", "mean, half = t_interval(a, confidence)\n    mean = mean - float(np.mean(b))",
      "tests/test_statistics.py", "the paired difference's interval from a alone (pairing lost)"),
    M("physiology-percentile-one-sided", "selfassembly/analysis/physiology.py",
      "q = [(1 - level) / 2, 1 - (1 - level) / 2]", "q = [1 - level, level]", T_PP,
      "bootstrap percentile interval one-sided"),
    M("physiology-data-se-z", "selfassembly/analysis/physiology_data.py",
      "Z95 = float(stats.norm.ppf(0.975))", "Z95 = float(stats.norm.ppf(0.95))", "tests/test_compare.py",
      "users' se turned into a 90% interval"),
    # ---- reported accuracy (issue 21) -----------------------------------------------------
    M("accuracy-summary-best", "selfassembly/experiment.py",
      '"final_test_acc": last["test_acc"],', '"final_test_acc": max(r["test_acc"] for r in self.rows),', T_PA,
      "final_test_acc as the best evaluation"),
    M("accuracy-learning-best", "selfassembly/sweep/learning_run.py",
      'result["final_acc"] = curve[-1]["acc"] if done else None',
      'result["final_acc"] = max(c["acc"] for c in curve) if done else None', T_PA,
      "the learning benchmark's final accuracy as the best epoch"),
    M("accuracy-learning-summary-best", "benchmarks/learning.py",
      'own = {r["seed"]: r[value] for r in rs}', 'own = {r["seed"]: max(c["acc"] for c in r["curve"]) for r in rs}',
      T_PA, "summary.csv aggregates the best epoch"),
    M("accuracy-learning-seeds-best", "benchmarks/learning.py",
      '"status": r["status"], "test_acc": r["final_acc"],', '"status": r["status"], "test_acc": max(c["acc"] for c in r["curve"]),',
      T_PA, "seeds.csv reports the best epoch"),
    M("accuracy-train-acc-from-test", "selfassembly/experiment.py",
      '"final_train_acc": last["train_acc"],', '"final_train_acc": last["test_acc"],', T_PA,
      "train accuracy reported from the test set"),
    # ---- compare's report (issue 21) -------------------------------------------------------
    M("compare-counts-swapped", "selfassembly/analysis/compare.py",
      'print(f"compared {\', \'.join(result[\'presets\'])}: {counts[AGREE]} agree, {counts[DISAGREE]} disagree, "',
      'print(f"compared {\', \'.join(result[\'presets\'])}: {counts[DISAGREE]} agree, {counts[AGREE]} disagree, "',
      T_PC, "the command's agree and disagree counts swapped"),
    M("compare-agree-not-disagree", "selfassembly/analysis/compare.py",
      'agree = sorted({c["preset"] for c in comps if c["verdict"] == AGREE})',
      'agree = sorted({c["preset"] for c in comps if c["verdict"] != DISAGREE})',
      T_PC, "agreeing presets as 'not disagree' (includes not comparable)"),
    M("compare-cell-counts-na", "selfassembly/analysis/compare.py",
      'judged = sum(c["verdict"] != NA for c in comparisons)', "judged = len(comparisons)", T_PC,
      "the summary table counts not-comparable comparisons as judged"),
    M("compare-summary-swapped", "selfassembly/analysis/compare.py",
      'out[c["preset"]][c["verdict"]] += 1', 'out[c["preset"]][{AGREE: DISAGREE, DISAGREE: AGREE}.get(c["verdict"], c["verdict"])] += 1',
      T_PC, "physiology.json's summary counts swapped"),
    M("compare-judge-two-sided-open", "selfassembly/analysis/compare.py",
      "if point.ci_low <= value <= point.ci_high:", "if point.ci_low < value < point.ci_high:",
      T_PC, "a model value on the data interval's bound disagrees"),
    # ---- run-folder integrity (issue 21) ----------------------------------------------------
    M("hash-without-connectivity", "selfassembly/config.py",
      "        text = json.dumps(data, sort_keys=True", '        data.pop("connectivity")\n        text = json.dumps(data, sort_keys=True',
      T_PRF, "the configuration hash leaves out connectivity"),
    M("hash-without-tau-xi", "selfassembly/config.py",
      '_NOT_HASHED = {"simulator": ("cache_dir",)}', '_NOT_HASHED = {"simulator": ("cache_dir",), "time": ("tau_xi_ms",)}',
      T_PRF, "the configuration hash leaves out tau_xi"),
    M("hash-without-seed", "selfassembly/config.py",
      '_NOT_HASHED = {"simulator": ("cache_dir",)}', '_NOT_HASHED = {"simulator": ("cache_dir",), "training": ("seed",)}',
      T_PRF, "the configuration hash leaves out the seed"),
    M("hash-without-engine", "selfassembly/config.py",
      '_NOT_HASHED = {"simulator": ("cache_dir",)}', '_NOT_HASHED = {"simulator": ("cache_dir", "engine")}',
      T_PRF, "the configuration hash leaves out the engine"),
    M("hash-without-eta-b", "selfassembly/config.py",
      '_NOT_HASHED = {"simulator": ("cache_dir",)}', '_NOT_HASHED = {"simulator": ("cache_dir",), "plasticity": ("eta_b",)}',
      T_PRF, "the configuration hash leaves out the loop mirror's eta_b"),
    M("hash-without-task", "selfassembly/config.py",
      '_NOT_HASHED = {"simulator": ("cache_dir",)}', '_NOT_HASHED = {"simulator": ("cache_dir",), "data": ("task",)}',
      T_PRF, "the configuration hash leaves out the task (classification or reconstruction)"),
    M("hash-without-label-column", "selfassembly/config.py",
      "        if not self.label_column:  # absent before", "        if True:  # absent before",
      T_PRF, "the configuration hash leaves out a data file's label column"),
    M("hash-includes-cache-dir", "selfassembly/config.py",
      '_NOT_HASHED = {"simulator": ("cache_dir",)}', '_NOT_HASHED = {}', T_PRF,
      "the hash changes with the cache folder (every resume would rerun)"),
    M("preset-done-steps-always", "selfassembly/experiment.py",
      "    return steps == [int(s) for s in snaps.steps]", "    return True", T_PRF,
      "the resume check of snapshot steps always true"),
    M("preset-done-snapshot-hash", "selfassembly/experiment.py",
      "if snaps.config_hash != h or list(snaps.sizes)", "if list(snaps.sizes)", T_PRF,
      "a snapshot file of another configuration counts as done"),
    M("preset-done-status", "selfassembly/experiment.py",
      'entry.get("status") not in FINISHED:', 'entry.get("status") is None:', T_PRF,
      "a failed preset counts as done"),
    # ---- rules at non-default parameters (issue 21) ------------------------------------------
    M("brian2-mirror-without-lam-c", "selfassembly/plasticity/rules.py",
      'out["V"] = "eta_c * (spont_post * q_spont_pre - lam_c * v)"', 'out["V"] = "eta_c * (spont_post * q_spont_pre - v)"',
      T_PR, "lambda_c dropped from V's mirror rule in Brian2"),
    M("brian2-hebbian-v-without-lam-c", "selfassembly/plasticity/rules.py",
      'out["V"] = "eta_c * (r_post * d_pre - lam_c * v)"', 'out["V"] = "eta_c * (r_post * d_pre - v)"',
      T_PR, "lambda_c dropped from V's Hebbian rule in Brian2"),
    M("brian2-noise-sqrt-sigma", "selfassembly/circuits/network.py",
      'A.sigma_xi = cross.sigma_xi', 'A.sigma_xi = np.sqrt(cross.sigma_xi)', T_PR,
      "sqrt(sigma_xi) instead of sigma_xi in the circuit's spontaneous activity"),
    M("brian2-noise-update-sqrt-sigma", "selfassembly/circuits/network.py",
      'A.run_regularly("spont = noise_decay * spont + sigma_xi * sqrt(1 - noise_decay**2) * randn()", when="start")',
      'A.run_regularly("spont = noise_decay * spont + sqrt(sigma_xi) * sqrt(1 - noise_decay**2) * randn()", when="start")',
      T_PR, "sqrt(sigma_xi) in the circuit's noise update"),
    M("model-reference-mirror-without-lam-c", "tests/model_reference.py",
      'new[f"V{l}"] = V + eta_c * (np.outer(xi[l], s) - lam_c * V)', 'new[f"V{l}"] = V + eta_c * (np.outer(xi[l], s) - V)',
      T_PR, "lambda_c dropped from V's rule in the tests' transcription of MODEL.md"),
    M("model-reference-hebbian-u-without-lam-c", "tests/model_reference.py",
      'new[f"U{l}"] = U + eta_c * (np.outer(d[l], r[l]) - lam_c * U)', 'new[f"U{l}"] = U + eta_c * (np.outer(d[l], r[l]) - U)',
      T_PR, "lambda_c dropped from U's Hebbian rule in the tests' transcription of MODEL.md"),
    M("numpy-loop-mirror-without-lam-c", "selfassembly/circuits/numpy_engine.py",
      "self._rank1(self.V[l], 1.0 - eta_c * lam_c, xi[l], s, eta_c)", "self._rank1(self.V[l], 1.0 - eta_c, xi[l], s, eta_c)",
      T_PR, "lambda_c dropped from V's rule in the numpy loop"),
    M("numpy-loop-noise-sqrt-sigma", "selfassembly/circuits/numpy_engine.py",
      "kick = self.sigma_xi * np.sqrt(1.0 - decay**2)", "kick = np.sqrt(self.sigma_xi) * np.sqrt(1.0 - decay**2)",
      T_PR,
      "sqrt(sigma_xi) in the numpy loop's spontaneous activity"),
    # ---- circuits and plasticity at large ------------------------------------------------------
    M("model-reference-w-decay-missing", "tests/model_reference.py",
      'new[f"W{l}"] = W - eta * np.outer(e[l], r[l - 1]) - eta * lam * W', 'new[f"W{l}"] = W - eta * np.outer(e[l], r[l - 1])',
      "tests/test_circuit.py::test_plasticity_steps_match_numpy", "W's weight decay dropped in the tests' transcription"),
    M("numpy-engine-w-decay-missing", "selfassembly/circuits/numpy_engine.py",
      "        decay = 1.0 - eta * lam\n        prev =", "        decay = 1.0\n        prev =",
      ["tests/test_engines.py::test_engines_agree_for_every_preset", "-k", "backprop"],
      "W's weight decay dropped in the numpy engine"),
    M("reference-error-without-fprime", "selfassembly/circuits/reference.py",
      "        e[l] = fprime(h[l]) * m[l]\n", "        e[l] = m[l]\n",
      "tests/test_circuit.py::test_sweep_matches_numpy tests/test_circuit.py::test_backprop_update_is_true_gradient",
      "the hidden error without f'(h)"),
    M("model-reference-b-rule-sign", "tests/model_reference.py",
      "change += -eta * np.outer(ur, d[l + 1]) - eta * lam * B", "change += eta * np.outer(ur, d[l + 1]) - eta * lam * B",
      "tests/test_circuit.py::test_plasticity_steps_match_numpy", "B's task rule with the wrong sign in the transcription"),
    M("numpy-engine-b-task-sign", "selfassembly/circuits/numpy_engine.py",
      "self._rank1(B, decay, Q[l][1], task_signal, -fb.eta * rate_scale)",
      "self._rank1(B, decay, Q[l][1], task_signal, fb.eta * rate_scale)",
      ["tests/test_engines.py::test_engines_agree_for_every_preset", "-k", "kolen"],
      "B's task rule with the wrong sign in the numpy engine"),
    M("connectivity-std-without-p", "selfassembly/circuits/connectivity.py",
      "std = self.scale / np.sqrt(self.p * n_pre)", "std = self.scale / np.sqrt(n_pre)",
      "tests/test_planted_rules.py", "sparse weights not rescaled by the connection probability"),
    M("alignment-ff-on-B", "selfassembly/analysis/alignment.py",
      'return weights[f"V{l}"] @ weights[f"B{l + 1}"] @ weights[f"U{l + 1}"]', 'return weights[f"B{l + 1}"]',
      "tests/test_verdict.py::test_effective_feedback_is_V_B_U", "the effective feedback is B alone"),
    M("alignment-cross-not-transposed", "selfassembly/analysis/alignment.py",
      'return {l: angle(weights[f"V{l}"], weights[f"U{l}"].T) for l in range(1, L + 1)}',
      'return {l: angle(weights[f"V{l}"], weights[f"U{l}"]) for l in range(1, L + 1)}',
      "tests/test_verdict.py::test_effective_feedback_is_V_B_U", "cross-stream angle against U instead of U^T"),
    M("presets-default-lam-c", "selfassembly/config.py",
      "return make_preset(preset, self.eta, self.lam, self.eta_c, self.lam_c, self.sigma_xi, self.eta_u,",
      "return make_preset(preset, self.eta, self.lam, self.eta_c, 1.0, self.sigma_xi, self.eta_u,",
      T_PR, "the configuration's lam_c never reaches the rules"),
    M("plasticity-w-rule-without-decay", "selfassembly/plasticity/rules.py",
      'change = "-eta * (err_post * r_pre + lam * w)"', 'change = "-eta * (err_post * r_pre)"',
      "tests/test_circuit.py::test_plasticity_steps_match_numpy", "W's decay dropped from the Brian2 rule"),
    M("plasticity-tied-b-reads-d", "selfassembly/plasticity/rules.py",
      'parts.append("-eta * (q_r_post * q_pre + lam * b)")', 'parts.append("-eta * (q_r_post * d_pre + lam * b)")',
      "tests/test_circuit.py::test_tied_feedback_stays_tied tests/test_circuit.py::test_tied_feedback_stays_tied_in_dynamic_mode",
      "a tied B reads D's rate instead of its input"),
    M("plasticity-fixed-u-preset-learns", "selfassembly/plasticity/presets.py",
      '"four_synapse_fixed_u": (FOUR_SYNAPSE_B, "mirror", "fixed", "random"', '"four_synapse_fixed_u": (FOUR_SYNAPSE_B, "mirror", "reconstruct", "random"',
      T_PR, "the fixed-U ablation lets U learn"),
    M("plasticity-reconstruct-sign", "selfassembly/plasticity/rules.py",
      'out["U"] = "eta_u * q_spont_post * (spont_pre - a_spont_pre)"', 'out["U"] = "eta_u * q_spont_post * (a_spont_pre - spont_pre)"',
      T_PR, "U's reconstruction rule with the wrong sign"),
    M("learning-score-first-epochs", "benchmarks/learning.py",
      'for c in result["curve"][-SCORE_EPOCHS:]', 'for c in result["curve"][:SCORE_EPOCHS]',
      "tests/test_benchmarks.py::test_learning_choice_is_the_best_validation_score_and_never_a_diverged_run",
      "validation score from the first epochs"),
    M("learning-paired-sign", "benchmarks/learning.py",
      "d = [scale * (a[s] - b[s]) for s in common]", "d = [scale * (b[s] - a[s]) for s in common]",
      "tests/test_benchmarks.py::test_learning_summary_pairs_seeds_with_a_t_interval " + T_PA,
      "difference to backprop with the wrong sign"),
    # ---- B's loop mirror (issue 16, item 8) ---------------------------------------------------
    # Brian2 circuit: its rule expression and the summed variables that carry xi up W and across U
    M("lm-brian2-sign", F_RULES,
      'parts.append("eta_b * (q_spont_post * u_loop_pre - lam_b * b)")',
      'parts.append("eta_b * (-q_spont_post * u_loop_pre - lam_b * b)")',
      T_CIRC_LM, "the loop mirror's sign flipped in Brian2"),
    M("lm-brian2-pre-post-swapped", F_RULES,
      'parts.append("eta_b * (q_spont_post * u_loop_pre - lam_b * b)")',
      'parts.append("eta_b * (q_spont_pre * u_loop_post - lam_b * b)")',
      T_CIRC_LM, "the loop mirror transposed in Brian2 (pre and post swapped)"),
    M("lm-brian2-u-loop-of-post", F_RULES,
      'parts.append("eta_b * (q_spont_post * u_loop_pre - lam_b * b)")',
      'parts.append("eta_b * (q_spont_post * u_loop_post - lam_b * b)")',
      T_CIRC_LM, "B_{l+1} reads u_l (U_l W_l xi_{l-1}) instead of u_{l+1}: U on the wrong side"),
    M("lm-brian2-lam-b-dropped", F_RULES,
      'parts.append("eta_b * (q_spont_post * u_loop_pre - lam_b * b)")',
      'parts.append("eta_b * (q_spont_post * u_loop_pre - b)")',
      T_ENG_LM, "lambda_b dropped from the loop mirror in Brian2"),
    M("lm-brian2-eta-lam-swapped", F_RULES,
      "out.update(eta_b=self.eta_b, lam_b=self.lam_b)", "out.update(eta_b=self.lam_b, lam_b=self.eta_b)",
      T_ENG_LM, "eta_b and lambda_b swapped in the constants Brian2 reads"),
    M("lm-brian2-skips-mirror", F_RULES,
      '        if self.mirror:\n            parts.append("eta_b', '        if self.mirror and self.task:\n            parts.append("eta_b',
      T_CIRC_LM, "Brian2's B skips the loop mirror unless the task rule is on too"),
    M("lm-brian2-u-loop-skips-w", F_NET,
      'summed.append("u_loop_post = u * z_spont_pre : 1 (summed)")', 'summed.append("u_loop_post = u * spont_pre : 1 (summed)")',
      T_CIRC_LM, "u_{l+1} = U_{l+1} xi_{l+1}: no trip up W in Brian2"),
    M("lm-brian2-z-from-rates", F_NET,
      'summed.append("z_spont_post = w * spont_pre : 1 (summed)")', 'summed.append("z_spont_post = w * r_pre : 1 (summed)")',
      T_CIRC_LM, "z_{l+1} = W_{l+1} r_l (the stimulus' drive) instead of W_{l+1} xi_l in Brian2"),
    M("lm-brian2-u-loop-before-z", F_NET,
      '("V", "a_spont_post"), ("W", "z_spont_post"),\n                     ("U", "u_loop_post")):',
      '("V", "a_spont_post"), ("U", "u_loop_post"),\n                     ("W", "z_spont_post")):',
      T_CIRC_LM, "u_loop summed before z_spont in the sweep: B reads last presentation's loop"),
    # numpy engine
    M("lm-numpy-sign", F_NP,
      "self._rank1(B, decay, Q[l][2], Q[l + 1][3], fb.eta_b * rate_scale)",
      "self._rank1(B, decay, Q[l][2], Q[l + 1][3], -fb.eta_b * rate_scale)",
      T_LM_FP, "the loop mirror's sign flipped in the numpy engine"),
    M("lm-numpy-pre-post-swapped", F_NP,
      "self._rank1(B, decay, Q[l][2], Q[l + 1][3], fb.eta_b * rate_scale)",
      "self._rank1(B, decay, Q[l + 1][3], Q[l][2], fb.eta_b * rate_scale)",
      T_PLM_NP_SQ, "the loop mirror transposed in the numpy engine (pre and post swapped; square layers)"),
    M("lm-numpy-u-skipped", F_NP,
      "self._rank1(B, decay, Q[l][2], Q[l + 1][3], fb.eta_b * rate_scale)",
      "self._rank1(B, decay, Q[l][2], self.S[l + 1][3], fb.eta_b * rate_scale)",
      T_LM_FP, "u_{l+1} = W_{l+1} xi_l without U_{l+1} in the numpy engine"),
    M("lm-numpy-near-u-skipped", F_NP,
      "self._rank1(B, decay, Q[l][2], Q[l + 1][3], fb.eta_b * rate_scale)",
      "self._rank1(B, decay, self.S[l][2], Q[l + 1][3], fb.eta_b * rate_scale)",
      T_LM_FP, "xi_l instead of s_l = U_l xi_l at D_l in the numpy engine"),
    M("lm-numpy-z-skips-w", F_NP,
      "self._rank1(B, decay, Q[l][2], Q[l + 1][3], fb.eta_b * rate_scale)",
      "self._rank1(B, decay, Q[l][2], Q[l + 1][2], fb.eta_b * rate_scale)",
      T_LM_FP, "u_{l+1} = U_{l+1} xi_{l+1} (no trip up W) in the numpy engine"),
    M("lm-numpy-z-from-rates", F_NP,
      "np.dot(self.W[l], xi[l - 1], out=self.S[l][3])", "np.dot(self.W[l], self.r[l - 1], out=self.S[l][3])",
      [T_LM_FP, *T_ENG_LM], "z_{l+1} = W_{l+1} r_l instead of W_{l+1} xi_l in the numpy engine"),
    M("lm-numpy-eta-for-eta-b", F_NP,
      "self._rank1(B, decay, Q[l][2], Q[l + 1][3], fb.eta_b * rate_scale)",
      "self._rank1(B, decay, Q[l][2], Q[l + 1][3], fb.eta * rate_scale)",
      T_LM_FP, "the loop mirror at W's rate eta instead of eta_b in the numpy engine"),
    M("lm-numpy-lam-b-dropped", F_NP,
      "(fb.eta_b * fb.lam_b if fb.mirror else 0.0)", "(fb.eta_b if fb.mirror else 0.0)",
      T_LM_FP, "lambda_b dropped from the loop mirror's decay in the numpy engine"),
    M("lm-numpy-skips-mirror", F_NP,
      "        if fb.mirror:  # s_l u_{l+1}^T", "        if False:  # s_l u_{l+1}^T",
      T_LM_FP, "the numpy engine's B skips the loop mirror (decay only)"),
    M("lm-numpy-mirror-only-b-still", F_NP,
      'if fb.plastic and not fb.tied and "B" not in frozen:  # B reads', 'if fb.task and "B" not in frozen:  # B reads',
      T_LM_FP, "the numpy engine updates B only when the task rule is on (weight_mirror, four_synapse: B fixed)"),
    M("lm-dynamic-loop-rate-scale", F_NP,
      "self._feedback_step(l, d[l + 1], self.dt / self.T, xi)", "self._feedback_step(l, d[l + 1], 1.0, xi)",
      ["tests/test_benchmarks.py::test_dynamic_loop_matches_circuit", "-k", "weight_mirror or fixed_cross"],
      "the dynamic loop's B takes a whole presentation's change every dt"),
    # the tests' transcription of MODEL.md (tests/model_reference.py)
    M("lm-model-reference-sign", F_REF,
      "change += rules.feedback.eta_b * (np.outer(s, u) - rules.feedback.lam_b * B)",
      "change += rules.feedback.eta_b * (-np.outer(s, u) - rules.feedback.lam_b * B)",
      T_CIRC_LM, "the loop mirror's sign flipped in the transcription"),
    M("lm-model-reference-far-u-transposed", F_REF,
      'u = weights[f"U{l + 1}"] @ (weights[f"W{l + 1}"] @ xi[l])', 'u = weights[f"U{l + 1}"].T @ (weights[f"W{l + 1}"] @ xi[l])',
      T_CIRC_LM, "U_{l+1}^T instead of U_{l+1} on the loop in the transcription"),
    M("lm-model-reference-near-u-transposed", F_REF,
      's = weights[f"U{l}"] @ xi[l]  # xi_l as it reaches D_l', 's = weights[f"U{l}"].T @ xi[l]  # xi_l as it reaches D_l',
      T_CIRC_LM, "U_l^T instead of U_l at D_l in the transcription"),
    M("lm-model-reference-outer-transposed", F_REF,
      "change += rules.feedback.eta_b * (np.outer(s, u) - rules.feedback.lam_b * B)",
      "change += rules.feedback.eta_b * (np.outer(u, s) - rules.feedback.lam_b * B)",
      T_PLM_CIRC_SQ, "the loop mirror transposed in the transcription (square layers)"),
    M("lm-model-reference-u-from-U-l", F_REF,
      'u = weights[f"U{l + 1}"] @ (weights[f"W{l + 1}"] @ xi[l])', 'u = weights[f"U{l}"] @ (weights[f"W{l + 1}"] @ xi[l])',
      T_PLM_CIRC_SQ, "U_l instead of U_{l+1} on the loop in the transcription (square layers)"),
    M("lm-model-reference-lam-b-dropped", F_REF,
      "change += rules.feedback.eta_b * (np.outer(s, u) - rules.feedback.lam_b * B)",
      "change += rules.feedback.eta_b * (np.outer(s, u) - B)",
      [T_PLM], "lambda_b dropped from the transcription's loop mirror"),
    # presets and configuration
    M("lm-ablation-fixed-u-loses-mirror", F_PRESETS,
      '"four_synapse_fixed_u": (FOUR_SYNAPSE_B,', '"four_synapse_fixed_u": ("task",',
      "tests/test_loop_mirror.py::test_ablations_carry_four_synapse_b_rule",
      "the fixed-U ablation silently without the loop mirror"),
    M("lm-ablation-fixed-cross-loses-mirror", F_PRESETS,
      '"four_synapse_fixed_cross": (FOUR_SYNAPSE_B,', '"four_synapse_fixed_cross": ("task",',
      "tests/test_loop_mirror.py::test_ablations_carry_four_synapse_b_rule",
      "the fixed-cross ablation silently without the loop mirror"),
    M("lm-no-loop-mirror-ablation-mirrors", F_PRESETS,
      '"four_synapse_no_loop_mirror": ("task",', '"four_synapse_no_loop_mirror": (FOUR_SYNAPSE_B,',
      "tests/test_loop_mirror.py::test_ablations_carry_four_synapse_b_rule",
      "the no-loop-mirror ablation has the loop mirror"),
    M("lm-weight-mirror-is-task", F_PRESETS,
      '"weight_mirror": ("loop_mirror",', '"weight_mirror": ("task",',
      "tests/test_loop_mirror.py::test_ablations_carry_four_synapse_b_rule",
      "weight_mirror is Kolen-Pollack"),
    M("lm-make-preset-eta-lam-b-swapped", F_PRESETS,
      "eta_b=eta_b, lam_b=lam_b)", "eta_b=lam_b, lam_b=eta_b)",
      T_LM_FP, "make_preset swaps eta_b and lambda_b (both engines alike)"),
    M("lm-config-eta-b-default", "selfassembly/config.py",
      "eta_b=self.eta_b,", 'eta_b=DEFAULT_PARAMS["eta_b"],',
      [T_PLM], "the configuration's eta_b never reaches the rules"),
    M("lm-config-lam-b-default", "selfassembly/config.py",
      "lam_b=self.lam_b, b_rule", 'lam_b=DEFAULT_PARAMS["lam_b"], b_rule',
      [T_PLM], "the configuration's lambda_b never reaches the rules"),
    M("lm-config-b-rule-ignored", "selfassembly/config.py",
      "b_rule=self.b_rule or None, rate_scaling", "b_rule=None, rate_scaling",
      [T_PLM], "the configuration's b_rule never reaches the rules"),
    # the numpy engine's spontaneous activity: Brian2's stream, in Brian2's order
    M("lm-numpy-noise-default-rng", F_NP,
      "self.loop._spontaneous(np.random.RandomState(int(seed)))", "self.loop._spontaneous(np.random.default_rng(int(seed)))",
      T_ENG_LM, "the numpy engine's noise from default_rng instead of Brian2's RandomState stream"),
    M("lm-numpy-noise-layers-reversed", F_NP,
      "            for l, buf in xi.items():", "            for l, buf in reversed(xi.items()):",
      T_ENG_LM, "the numpy engine draws the layers' noise top layer first"),
    M("lm-numpy-noise-no-stationary-start", F_NP,
      "xi = {l: (sigma * rng.standard_normal(n)).astype(self.dtype) for l, n in enumerate(self.sizes) if l > 0}",
      "xi = {l: np.zeros(n, dtype=self.dtype) for l, n in enumerate(self.sizes) if l > 0}",
      T_ENG_LM, "no stationary start: the numpy engine's stream one draw per layer ahead of Brian2's"),
    M("lm-numpy-noise-after-sweep", F_NP,
      "            self._draw()\n            x = X[sample] if self._stimulus_on else self._blank\n"
      "            loop.sweep(x, Y[sample], self._xi)\n",
      "            x = X[sample] if self._stimulus_on else self._blank\n"
      "            loop.sweep(x, Y[sample], self._xi)\n            self._draw()\n",
      T_ENG_LM, "the noise drawn between the sweep and the plasticity step"),
    M("lm-numpy-engine-seed-ignored", "selfassembly/experiment.py",
      "record_every=record_every, name=preset, seed=config.seed,", "record_every=record_every, name=preset, seed=0,",
      T_ENG_LM, "the numpy engine's noise seeded 0 whatever the configuration's seed"),
    # NumpyCircuit's records, the engine choice, sparse masks
    M("numpy-engine-record-after-step", F_NP,
      "                self._records.append(loop.weights())\n            sample = order[k]\n            self._draw()\n"
      "            x = X[sample] if self._stimulus_on else self._blank\n"
      "            loop.sweep(x, Y[sample], self._xi)\n"
      "            if self._bad_at is None and not np.all(np.isfinite(top)):\n"
      "                self._bad_at = k + 1  # counted from 1, as the Brian2 circuit's watch\n"
      "            loop.plasticity(x, self._xi)\n",
      "                self._records.append(None)\n            sample = order[k]\n            self._draw()\n"
      "            x = X[sample] if self._stimulus_on else self._blank\n"
      "            loop.sweep(x, Y[sample], self._xi)\n"
      "            if self._bad_at is None and not np.all(np.isfinite(top)):\n"
      "                self._bad_at = k + 1  # counted from 1, as the Brian2 circuit's watch\n"
      "            loop.plasticity(x, self._xi)\n"
      "            if self._records and self._records[-1] is None:\n"
      "                self._records[-1] = loop.weights()\n",
      T_ENG_LM, "records taken after the presentation they are labelled before"),
    M("numpy-engine-record-off-by-one", F_NP,
      "if self.record_every and k % self.record_every == 0:", "if self.record_every and (k + 1) % self.record_every == 0:",
      T_ENG_LM, "records at the wrong presentations"),
    M("experiment-engine-ignored", "selfassembly/experiment.py",
      "circuit = make_circuit(config.engine)", "circuit = make_circuit()",
      [T_PLM + "::test_run_preset_builds_the_engine_it_is_given"], "run_preset always builds the Brian2 circuit"),
    M("experiment-engine-always-numpy", "selfassembly/experiment.py",
      "circuit = make_circuit(config.engine)", 'circuit = make_circuit("numpy")',
      [T_PLM + "::test_run_preset_builds_the_engine_it_is_given"], "run_preset always builds the numpy engine"),
    M("numpy-engine-mask-not-applied", F_NP,
      "                store[l] *= mask", "                pass",
      "tests/test_engines.py::test_engines_agree_sparse_relu_and_reconstruction",
      "the numpy engine lets absent synapses grow"),
    M("numpy-engine-b-mask-not-applied", F_NP,
      '(("W", self.W), ("B", self.B), ("U", self.U), ("V", self.V))', '(("W", self.W), ("U", self.U), ("V", self.V))',
      "tests/test_engines.py::test_engines_agree_sparse_relu_and_reconstruction",
      "the numpy engine lets absent B synapses grow (the loop mirror fills them)"),
    # ---- sweep (the table of selfassembly/sweep/) ------------------------------------------------
    M("sweep-acc-minus-reference-sign", "selfassembly/sweep/table.py",
      'r["acc_minus_reference"] = r["final_test_acc"] - other["final_test_acc"]',
      'r["acc_minus_reference"] = other["final_test_acc"] - r["final_test_acc"]',
      T_PS, "the sign of acc_minus_reference flipped"),
    M("sweep-worst-angle-min", "selfassembly/sweep/table.py",
      "    return max(vals) if vals else None", "    return min(vals) if vals else None", T_PS,
      "the worst layer's angle taken as the best"),
    M("sweep-reference-other-point", "selfassembly/sweep/table.py",
      'other = by_point.get((r["point"], ref)) if ref else None',
      'other = next((o for (pt, pr), o in by_point.items() if pr == ref), None) if ref else None',
      T_PS, "the reference taken from another point"),
    # ---- reciprocal sparse wiring (issue 20, item 1; ids rc-) ---------------------------------------
    M("rc-mask-drawn-independently", "selfassembly/circuits/connectivity.py",
      "given = masks[partner + name[1:]].T if partner else None", "given = None",
      [T_RC, "-k", "transposed or dynamic"], "reciprocal_to ignored: V's mask drawn independently"),
    M("rc-mask-not-transposed", "selfassembly/circuits/connectivity.py",
      "given = masks[partner + name[1:]].T if partner else None", "given = masks[partner + name[1:]] if partner else None",
      [T_RC, "-k", "transposed"], "V's mask is U's, not U's transposed"),
    M("rc-numpy-engine-ignores-masks", "selfassembly/circuits/numpy_engine.py",
      "                store[l] *= mask", "                pass",
      [T_RC, "-k", "dynamic_mode_keeps or engines_agree"], "the numpy engine lets absent U/V synapses grow"),
    M("rc-brian2-connects-all", "selfassembly/circuits/network.py",
      "cols, rows = np.nonzero(masks[pop].T)", "cols, rows = np.nonzero(np.ones_like(masks[pop].T))",
      [T_RC, "-k", "dynamic_mode_keeps or engines_agree"], "Brian2 connects every synapse of a sparse population"),
    M("rc-wiring-reciprocal-by-fraction", "selfassembly/analysis/graph.py",
      "        elif n_u == n_v == looped:", "        elif looped >= 0.1 * n_u:",
      [T_RC, "-k", "not_called_reciprocal or told_apart"], "independent masks called reciprocal"),
    M("rc-wiring-expected-dense", "selfassembly/analysis/graph.py",
      "        q = n_v / total", "        q = 1.0 if n_v else 0.0",
      [T_RC, "-k", "not_called_reciprocal"], "the independent-mask expectation taken as 1, not V's density"),
    M("rc-graph-looped-not-transposed", "selfassembly/analysis/graph.py",
      "back = np.asarray(masks[partner], bool).T", "back = np.asarray(masks[partner], bool)",
      [T_RC, "-k", "graph_export"], "the looped flag reads the partner's mask untransposed"),
    M("rc-census-without-wiring", "selfassembly/analysis/inspect.py",
      '"cross_wiring": wiring,', '"cross_wiring": {},', [T_RC, "-k", "inspect_census"],
      "inspect's motifs.json leaves the wiring out"),
    M("rc-config-p-not-from-partner", "selfassembly/config.py",
      '        out[pop]["p"] = out[partner]["p"]\n', "",
      [T_RC, "-k", "round_trips or sweep_varies"], "a reciprocal V keeps p = 1 instead of U's p"),
    M("rc-config-stale-p-kept", "selfassembly/config.py",
      '            spec.pop("p", None)', "            pass",
      [T_RC, "-k", "round_trips"], "a file on top of a reciprocal configuration keeps V's old p"),
    M("rc-config-p-mismatch-accepted", "selfassembly/config.py",
      '        if "p" in spec and out[pop]["p"] != out[partner]["p"]:', '        if False:',
      [T_RC, "-k", "configuration_errors"], "an explicit p that differs from U's is silently replaced"),
    M("rc-hash-without-reciprocal", "selfassembly/config.py",
      '            out[pop]["reciprocal_to"] = c.reciprocal_to', "            pass",
      [T_RC, "-k", "hash or round_trips"], "reciprocal_to dropped from the resolved configuration (and its hash)"),
    M("rc-sweep-key-missing", "selfassembly/sweep/spec.py",
      '    keys += [f"connectivity.{pop}.reciprocal_to" for pop in RECIPROCAL_PARTNERS]', "",
      [T_RC, "-k", "sweep_varies"], "a sweep cannot vary reciprocal_to"),
    M("rc-sweep-identity-not-shared", "selfassembly/sweep/execute.py",
      '            d["connectivity"].pop(family, None)', "            pass",
      [T_RC, "-k", "identity_presets_once"], "feedback alignment simulated again for every U/V wiring"),
    M("rc-divergence-advice-silent", "selfassembly/experiment.py",
      "        if min(u[\"p\"], v[\"p\"]) < 1 and not (u.get(\"reciprocal_to\") or v.get(\"reciprocal_to\")):",
      "        if False:", [T_RC, "-k", "divergence_message"],
      "the divergence message does not name independent sparse masks"),
    M("rc-phase-diagram-blank-divergence", "selfassembly/sweep/plots.py",
      "            notes[i, j] = cell_note(s)", '            notes[i, j] = ""', [T_RC, "-k", "phase_diagram"],
      "a phase-diagram cell whose runs all diverged is left blank"),
    # ---- phases (issue 20, item 2: lesions and phases) -------------------------------------------
    M("phase-numpy-sigma-ignored", F_NP, '        self.sigma_xi = params["sigma_xi"]\n        self.teacher', '        self.teacher',
      [T_PH, "-k", "silenced"], "the numpy engine keeps the configuration's sigma_xi in a phase"),
    M("phase-brian2-sigma-ignored", F_NET, 'A.sigma_xi = params["sigma_xi"]', 'pass',
      [T_PH, "-k", "engines_agree_across"], "the Brian2 circuit keeps the configuration's sigma_xi in a phase"),
    M("phase-brian2-stimulus-on", F_NET, 'self.A[0].stim_on = on', 'pass', [T_PH, "-k", "no_teacher"],
      "the Brian2 circuit shows the stimulus in a phase without it"),
    M("phase-brian2-teacher-on", F_NET, '"err = stim_on * (r - y)"', '"err = r - y + 0 * stim_on"',
      [T_PH, "-k", "no_teacher"], "the Brian2 circuit keeps the teacher in a phase without stimulus"),
    M("phase-numpy-teacher-on", F_NP, 'if self.teacher:', 'if True:', [T_PH, "-k", "no_teacher"],
      "the numpy engine keeps the teacher in a phase without stimulus"),
    M("phase-numpy-stimulus-on", F_NP, 'x = X[sample] if self._stimulus_on else self._blank', 'x = X[sample]',
      [T_PH, "-k", "no_teacher"], "the numpy engine shows the stimulus in a phase without it"),
    M("phase-numpy-v-not-frozen", F_NP, 'v_rule = "fixed" if "V" in frozen else rules.cross.v', 'v_rule = rules.cross.v',
      [T_PH, "-k", "frozen_population and numpy"], "the numpy engine lets a frozen V learn"),
    M("phase-rates-not-zeroed", F_PHASES,
      "        out[pop] = {k: (0.0 if k in RATE_PARAMETERS else v) for k, v in out[pop].items()}", "        pass",
      [T_PH, "-k", "frozen_population and brian2"], "a frozen population keeps its learning rates on Brian2"),
    M("phase-tied-b-follows-frozen-w", F_PHASES, '        frozen.add("B")', '        pass',
      [T_PH, "-k", "backprop and brian2"], "backprop's transported B goes on changing while W is frozen"),
    M("phase-numpy-tie-ignores-frozen-b", F_NP, 'if fb.tied and "B" not in frozen:', 'if fb.tied:',
      [T_PH, "-k", "backprop and numpy"], "freezing backprop's B does not stop the transport"),
    M("phase-chunk-crosses-boundary", "selfassembly/experiment.py",
      "                    chunk = min(chunk, min(s for s in [*starts, n_total] if s > done) - done)\n", "",
      [T_PH, "-k", "where_the_records"], "a run switches phase only where a record falls"),
    M("phase-boundary-label", F_PHASES, 'if step <= end:', 'if step < end:', [T_PH, "-k", "engines_agree_across"],
      "the snapshot at a boundary labelled with the phase that starts there"),
    M("phase-not-hashed", "selfassembly/config.py", '            out["phases"] = [dict(p) for p in self.phases]',
      '            pass', [T_PH, "-k", "hash_follows"], "the schedule left out of the configuration's hash"),
    M("phase-epochs-conflict", "selfassembly/config.py", '            if epochs != total:', '            if False:',
      [T_PH, "-k", "round_trips"], "training.epochs that disagrees with the phases accepted"),
    M("phase-cli-epochs", "selfassembly/cli.py", 'if "epochs" in changes and config.phases:', 'if False:',
      [T_PH, "-k", "cli_refuses"], "--epochs silently ignored beside a schedule"),
]


def _copy_tree(dest):
    ignore = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", ".pytest_cache", "results", "build")
    shutil.copytree(ROOT, dest, ignore=ignore, dirs_exist_ok=True)


def _pytest(python, tests, scratch, env, timeout):
    """Run ``tests`` in the scratch copy; return (pytest's exit status or None on a timeout, stdout)."""
    try:
        proc = subprocess.run([python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                              cwd=scratch, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, ""
    return proc.returncode, proc.stdout


def _first_error(stdout):
    """The first ``E   `` line of pytest's report (what failed, in a line), or ''."""
    return next((x[1:].strip() for x in stdout.splitlines() if x.startswith("E ")), "")


def run(mutants, timeout=900, python=sys.executable, echo=None, baseline=True, explain=False):
    """Apply each mutant to a scratch copy, run its tests, and return [(mutant, outcome, seconds)].

    With ``baseline`` every distinct test list runs once on the unmutated copy first: a list that
    fails there cannot judge a mutant, and its mutants are reported ``invalid`` (not caught)."""
    echo = echo or (lambda line: print(line, flush=True))  # flushed: the log of a long run shows its progress
    results = []
    with tempfile.TemporaryDirectory(prefix="selfassembly-mutate-") as tmp:
        scratch = Path(tmp) / "repo"
        _copy_tree(scratch)
        env = {**os.environ, "PYTHONPATH": str(scratch) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               "PYTHONDONTWRITEBYTECODE": "1"}
        check = subprocess.run([python, "-c", "import selfassembly; print(selfassembly.__file__)"], cwd=scratch,
                               env=env, capture_output=True, text=True)
        if not check.stdout.strip().startswith(str(scratch)):
            raise SystemExit(f"the scratch copy is not what the tests would import ({check.stdout.strip()})")
        broken = {}  # test list -> why it fails without any mutant
        if baseline:
            for tests in dict.fromkeys(m.tests for m in mutants):
                code, out = _pytest(python, tests, scratch, env, timeout)
                if code != 0:
                    broken[tests] = "timeout" if code is None else (f"pytest exit {code}: " + _first_error(out))
                    echo(f"BASELINE FAILS {' '.join(tests)}: {broken[tests]}")
        for m in mutants:
            path = scratch / m.file
            original = path.read_text()
            if original.count(m.old) != 1:
                results.append((m, f"stale (old text found {original.count(m.old)} times)", 0.0))
                echo(f"STALE   {m.id}: old text found {original.count(m.old)} times in {m.file}")
                continue
            if m.tests in broken:
                results.append((m, f"invalid (its tests fail without it: {broken[m.tests]})", 0.0))
                echo(f"INVALID {m.id}: its tests fail without the mutant")
                continue
            path.write_text(original.replace(m.old, m.new))
            t0 = time.perf_counter()
            try:
                code, out = _pytest(python, m.tests, scratch, env, timeout)
            finally:
                path.write_text(original)
            if code is None:
                outcome = "caught (timeout)"
            elif code == 5:
                outcome = "stale (no tests collected)"
            else:
                outcome = "missed" if code == 0 else ("caught" if code == 1 else f"caught (pytest exit {code})")
                failed = [x.split()[1] for x in out.splitlines() if x.startswith(("FAILED ", "ERROR "))]
                if failed and code == 1:
                    outcome += f" by {failed[0]}"
            dt = time.perf_counter() - t0
            results.append((m, outcome, dt))
            echo(f"{outcome.split()[0].upper():7} {m.id} ({dt:.0f} s): {m.why}"
                 + (f" [{outcome.split(' by ')[1]}]" if " by " in outcome else "")
                 + (f"\n        {_first_error(out)[:300]}" if explain and code not in (0, None) else ""))
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("select", nargs="*", help="run only mutants whose id contains one of these")
    p.add_argument("--list", action="store_true", help="list the mutants and stop")
    p.add_argument("--timeout", type=int, default=900, help="seconds per mutant before it counts as caught")
    p.add_argument("--no-baseline", action="store_true",
                   help="skip running each test list once without mutants (faster; a failing list then 'catches' all)")
    p.add_argument("--explain", action="store_true", help="print the first error line of each caught mutant "
                   "(an assertion about values, or an exception such as a shape error)")
    args = p.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.select or any(s in m.id for s in args.select)]
    ids = [m.id for m in MUTANTS]
    if len(set(ids)) != len(ids):
        raise SystemExit("mutant ids must be unique")
    if args.list:
        for m in chosen:
            print(f"{m.id:40} {m.file}: {m.why} [{' '.join(m.tests)}]")
        return 0
    results = run(chosen, args.timeout, baseline=not args.no_baseline, explain=args.explain)
    caught = [r for r in results if r[1].startswith("caught")]
    bad = [r for r in results if not r[1].startswith("caught")]
    print(f"\n{len(caught)}/{len(results)} caught ({100 * len(caught) / max(1, len(results)):.0f}%)")
    for m, outcome, _ in bad:
        print(f"  {outcome}: {m.id} ({m.file}: {m.why})")
    return len(bad)


if __name__ == "__main__":
    raise SystemExit(main())
