"""Mutation check: plant known bugs one at a time and see whether the tests catch them.

Not part of the test suite (it runs the tests once per mutant: minutes). Run it after
changing the tests or the code they guard::

    nice -n 10 .venv/bin/python tools/mutate.py            # every mutant
    nice -n 10 .venv/bin/python tools/mutate.py verdict    # mutants whose id contains "verdict"
    .venv/bin/python tools/mutate.py --list                # the list, nothing run

Each mutant is (id, file, exact old text, new text, tests to run): a single-point bug of the
kind that changes a result a user reports. The repository is copied once to a scratch folder
(the working tree is never touched); each mutant is applied there, the listed tests run against
that copy (``PYTHONPATH`` puts it first), and the file is restored. A mutant is *caught* when
the tests fail, *missed* when they pass, and *stale* when its old text is no longer in the file
exactly once (the code moved: update the entry). The exit status is the number of missed and
stale mutants.

Issue 21 seeded the list with the 21 bugs a first audit found the suite blind to; keep adding
one for every bug found in review. Entries under "sweep" name selfassembly/sweep.py and will
need repointing when the sweep becomes a subpackage.
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
      "t = float(stats.t.ppf(0.975, len(x) - 1))", "t = float(stats.t.ppf(0.95, len(x) - 1))", T_PP,
      "one-sided t quantile in the SLN interval"),
    M("physiology-data-sln-dof-n", "selfassembly/analysis/physiology_data.py",
      "t = float(stats.t.ppf(0.975, len(x) - 1))", "t = float(stats.t.ppf(0.975, len(x)))", T_PP,
      "n instead of n - 1 degrees of freedom in the SLN interval"),
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
    M("accuracy-learning-best", "benchmarks/learning.py",
      'final_acc=curve[-1]["acc"] if status == "done" else None',
      'final_acc=max(c["acc"] for c in curve) if status == "done" else None', T_PA,
      "the learning benchmark's final accuracy as the best epoch"),
    M("accuracy-learning-summary-best", "benchmarks/learning.py",
      'acc = {r["seed"]: r["final_acc"] for r in rs}', 'acc = {r["seed"]: max(c["acc"] for c in r["curve"]) for r in rs}',
      T_PA, "summary.csv aggregates the best epoch"),
    M("accuracy-learning-seeds-best", "benchmarks/learning.py",
      '"test_acc": r["final_acc"], "ff_angle"', '"test_acc": max(c["acc"] for c in r["curve"]), "ff_angle"',
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
    M("reference-mirror-without-lam-c", "selfassembly/circuits/reference.py",
      'new[f"V{l}"] = V + eta_c * (np.outer(xi[l], s) - lam_c * V)', 'new[f"V{l}"] = V + eta_c * (np.outer(xi[l], s) - V)',
      T_PR, "lambda_c dropped from V's rule in the numpy reference"),
    M("reference-hebbian-u-without-lam-c", "selfassembly/circuits/reference.py",
      'new[f"U{l}"] = U + eta_c * (np.outer(d[l], r[l]) - lam_c * U)', 'new[f"U{l}"] = U + eta_c * (np.outer(d[l], r[l]) - U)',
      T_PR, "lambda_c dropped from U's Hebbian rule in the numpy reference"),
    M("numpy-loop-mirror-without-lam-c", "benchmarks/numpy_loop.py",
      "self._rank1(self.V[l], 1.0 - eta_c * lam_c, xi[l], s, eta_c)", "self._rank1(self.V[l], 1.0 - eta_c, xi[l], s, eta_c)",
      T_PR, "lambda_c dropped from V's rule in the numpy loop"),
    M("numpy-loop-noise-sqrt-sigma", "benchmarks/numpy_loop.py",
      "sigma = self.rules.cross.sigma_xi", "sigma = np.sqrt(self.rules.cross.sigma_xi)", T_PR,
      "sqrt(sigma_xi) in the numpy loop's spontaneous activity"),
    # ---- circuits and plasticity at large ------------------------------------------------------
    M("reference-w-decay-missing", "selfassembly/circuits/reference.py",
      'new[f"W{l}"] = W - eta * np.outer(e[l], r[l - 1]) - eta * lam * W', 'new[f"W{l}"] = W - eta * np.outer(e[l], r[l - 1])',
      "tests/test_circuit.py::test_plasticity_steps_match_numpy", "W's weight decay dropped in the reference"),
    M("reference-error-without-fprime", "selfassembly/circuits/reference.py",
      "        e[l] = fprime(h[l]) * m[l]\n", "        e[l] = m[l]\n",
      "tests/test_circuit.py::test_sweep_matches_numpy tests/test_circuit.py::test_backprop_update_is_true_gradient",
      "the hidden error without f'(h)"),
    M("reference-b-rule-sign", "selfassembly/circuits/reference.py",
      'new[f"B{l + 1}"] = B - eta * np.outer(ur, d[l + 1]) - eta * lam * B', 'new[f"B{l + 1}"] = B + eta * np.outer(ur, d[l + 1]) - eta * lam * B',
      "tests/test_circuit.py::test_plasticity_steps_match_numpy", "B's rule with the wrong sign"),
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
      'signal = "q_pre" if self.tied else "d_pre"', 'signal = "d_pre"',
      "tests/test_circuit.py::test_tied_feedback_stays_tied tests/test_circuit.py::test_tied_feedback_stays_tied_in_dynamic_mode",
      "a tied B reads D's rate instead of its input"),
    M("plasticity-fixed-u-preset-learns", "selfassembly/plasticity/presets.py",
      '"four_synapse_fixed_u": ("plastic", "mirror", "fixed", "random"', '"four_synapse_fixed_u": ("plastic", "mirror", "reconstruct", "random"',
      T_PR, "the fixed-U ablation lets U learn"),
    M("plasticity-reconstruct-sign", "selfassembly/plasticity/rules.py",
      'out["U"] = "eta_u * q_spont_post * (spont_pre - a_spont_pre)"', 'out["U"] = "eta_u * q_spont_post * (a_spont_pre - spont_pre)"',
      T_PR, "U's reconstruction rule with the wrong sign"),
    M("learning-score-first-epochs", "benchmarks/learning.py",
      'for c in result["curve"][-SCORE_EPOCHS:]', 'for c in result["curve"][:SCORE_EPOCHS]',
      "tests/test_benchmarks.py::test_learning_choice_is_the_best_validation_score_and_never_a_diverged_run",
      "validation score from the first epochs"),
    M("learning-paired-sign", "benchmarks/learning.py",
      "d = [100 * (a[s] - b[s]) for s in common]", "d = [100 * (b[s] - a[s]) for s in common]",
      "tests/test_benchmarks.py::test_learning_summary_pairs_seeds_with_a_t_interval " + T_PA,
      "difference to backprop with the wrong sign"),
    # ---- sweep (selfassembly/sweep.py: repoint when it becomes a subpackage) -------------------
    M("sweep-acc-minus-reference-sign", "selfassembly/sweep.py",
      'r["acc_minus_reference"] = r["final_test_acc"] - other["final_test_acc"]',
      'r["acc_minus_reference"] = other["final_test_acc"] - r["final_test_acc"]',
      T_PS, "the sign of acc_minus_reference flipped"),
    M("sweep-worst-angle-min", "selfassembly/sweep.py",
      "    return max(vals) if vals else None", "    return min(vals) if vals else None", T_PS,
      "the worst layer's angle taken as the best"),
    M("sweep-reference-other-point", "selfassembly/sweep.py",
      'other = by_point.get((r["point"], ref)) if ref else None',
      'other = next((o for (pt, pr), o in by_point.items() if pr == ref), None) if ref else None',
      T_PS, "the reference taken from another point"),
]


def _copy_tree(dest):
    ignore = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", ".pytest_cache", "results", "build")
    shutil.copytree(ROOT, dest, ignore=ignore, dirs_exist_ok=True)


def run(mutants, timeout=900, python=sys.executable, echo=print):
    """Apply each mutant to a scratch copy, run its tests, and return [(mutant, outcome, seconds)]."""
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
        for m in mutants:
            path = scratch / m.file
            original = path.read_text()
            if original.count(m.old) != 1:
                results.append((m, f"stale (old text found {original.count(m.old)} times)", 0.0))
                echo(f"STALE   {m.id}: old text found {original.count(m.old)} times in {m.file}")
                continue
            path.write_text(original.replace(m.old, m.new))
            t0 = time.perf_counter()
            try:
                proc = subprocess.run([python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *m.tests],
                                      cwd=scratch, env=env, capture_output=True, text=True, timeout=timeout)
                outcome = "missed" if proc.returncode == 0 else ("caught" if proc.returncode == 1 else
                                                                 f"caught (pytest exit {proc.returncode})")
                failed = [x.split()[1] for x in proc.stdout.splitlines() if x.startswith(("FAILED ", "ERROR "))]
                if failed and proc.returncode == 1:
                    outcome += f" by {failed[0]}"
                if proc.returncode == 5:
                    outcome = "stale (no tests collected)"
            except subprocess.TimeoutExpired:
                outcome = "caught (timeout)"
            finally:
                path.write_text(original)
            dt = time.perf_counter() - t0
            results.append((m, outcome, dt))
            echo(f"{outcome.split()[0].upper():7} {m.id} ({dt:.0f} s): {m.why}"
                 + (f" [{outcome.split(' by ')[1]}]" if " by " in outcome else ""))
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("select", nargs="*", help="run only mutants whose id contains one of these")
    p.add_argument("--list", action="store_true", help="list the mutants and stop")
    p.add_argument("--timeout", type=int, default=900, help="seconds per mutant before it counts as caught")
    args = p.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.select or any(s in m.id for s in args.select)]
    ids = [m.id for m in MUTANTS]
    if len(set(ids)) != len(ids):
        raise SystemExit("mutant ids must be unique")
    if args.list:
        for m in chosen:
            print(f"{m.id:40} {m.file}: {m.why} [{' '.join(m.tests)}]")
        return 0
    results = run(chosen, args.timeout)
    caught = [r for r in results if r[1].startswith("caught")]
    bad = [r for r in results if not r[1].startswith("caught")]
    print(f"\n{len(caught)}/{len(results)} caught ({100 * len(caught) / max(1, len(results)):.0f}%)")
    for m, outcome, _ in bad:
        print(f"  {outcome}: {m.id} ({m.file}: {m.why})")
    return len(bad)


if __name__ == "__main__":
    raise SystemExit(main())
