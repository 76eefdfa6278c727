"""What every check of every lab must do, whatever the exercise."""

import importlib
import inspect
import math
import sys
import threading

import pytest
import torch
from grader_helpers import message

import aelab
import aelab.losses
import aelab.scores
import autograder
from aelab.course import registry
from autograder import reference as ref
from autograder.core import LABS, library_answers

ALL_CHECKS = [cid for lab in LABS for cid in autograder.all_checks(lab)]
EXERCISES = [(a.lab, ex.name) for a in registry.ASSIGNMENTS for ex in a.exercises]
LAB_OF = {exercise: lab for lab, exercise in EXERCISES}
LOG_2PI = math.log(2 * math.pi)


def _stub(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("check_id", ALL_CHECKS)
def test_an_unfilled_stub_is_reported_as_not_implemented(check_id):
    with pytest.raises(AssertionError, match="not implemented"):
        autograder.check(check_id, _stub)


@pytest.mark.parametrize("check_id", ALL_CHECKS)
def test_a_non_function_is_reported(check_id):
    with pytest.raises(AssertionError, match="must be a function"):
        autograder.check(check_id, 42)


def test_every_exercise_has_several_checks():
    for lab in LABS:
        exercises = {c.exercise for c in autograder.all_checks(lab).values()}
        assert len(exercises) >= 2, lab
        for exercise in exercises:
            assert len(autograder.check_ids(lab, exercise)) >= 3, (lab, exercise)


# ============================================== answers that hand the work to the course's library
# The library functions the graders refuse, spelled as a learner would write them.
LIBRARY = {
    "aelab.losses:vae_loss": lambda: aelab.vae_loss,
    "aelab.losses:reconstruction_term": lambda: aelab.reconstruction_term,
    "aelab.losses:_kl_normal_log_sigma": lambda: aelab.losses._kl_normal_log_sigma,
    "aelab.losses:kl_normal_log_var": lambda: aelab.kl_normal_log_var,
    "aelab.models:IrisVAE.reparameterize": lambda: aelab.IrisVAE.reparameterize,
    "aelab.models:MLPVAE.reparameterize": lambda: aelab.MLPVAE.reparameterize,
    "aelab.models:ConvVAE.sample_latent_vector": lambda: aelab.ConvVAE.sample_latent_vector,
    "aelab.models:BernoulliVAE.log_likelihood": lambda: aelab.BernoulliVAE.log_likelihood,
    "aelab.scores:reconstruction_probability": lambda: aelab.reconstruction_probability,
    "aelab.scores:percentile_threshold": lambda: aelab.percentile_threshold,
}


def _direct(path):
    """``aelab.reconstruction_term(...)`` written out in the answer."""
    return LIBRARY[path]


def _alias(path):
    """``from aelab.losses import reconstruction_term as mine`` before the answer is defined."""
    mine = LIBRARY[path]()
    return lambda: mine


def _built_string(path):
    """``getattr(importlib.import_module("aelab." + ...), "reconstruction" + "_term")`` at call time."""
    module, qualname = path.split(":")

    def get():
        obj = importlib.import_module("aelab." + module.split(".", 1)[1])
        for part in qualname.split("."):
            half = len(part) // 2
            obj = getattr(obj, part[:half] + part[half:])
        return obj

    return get


STYLES = {"direct": _direct, "alias": _alias, "getattr": _built_string}


def _flat(x):
    return torch.as_tensor(x).reshape(-1, 784)


def _loss_by_term(get):
    def reconstruction_loss(vae, x):
        x = _flat(x)
        return get()(x + 0.5, aelab.reconstruct(vae, x), "bce", "sum")

    return reconstruction_loss


def _loss_by_probability(get):
    def reconstruction_loss(vae, x):
        return -get()(vae, _flat(x), n_samples=1)

    return reconstruction_loss


def _loss_by_bernoulli(get):
    def reconstruction_loss(vae, x):
        x = _flat(x)
        return -get()(None, x + 0.5, aelab.reconstruct(vae, x))

    return reconstruction_loss


def _detect(loss_answer):
    """detect_outlier built on a delegating reconstruction_loss, as the task says ("use yours")."""

    def answer(get):
        loss = loss_answer(get)

        def detect_outlier(vae, x, th):
            flags = loss(vae, x) > th
            return bool(flags[0]) if x.dim() == 1 else flags

        return detect_outlier

    return answer


def _squared_error(x, x_hat):
    return ((x_hat - x) ** 2).sum(dim=1)


# exercise -> {library function: answer(get) that hands the exercise to get()}
DELEGATIONS = {
    "beta_vae_loss": {
        "aelab.losses:kl_normal_log_var": lambda get: (
            lambda x, x_hat, mu, log_var, beta=1.0: _squared_error(x, x_hat) + beta * get()(mu, log_var)
        ),
        "aelab.losses:_kl_normal_log_sigma": lambda get: (
            lambda x, x_hat, mu, log_var, beta=1.0: _squared_error(x, x_hat) + beta * get()(mu, 0.5 * log_var)
        ),
        "aelab.losses:vae_loss": lambda get: (
            lambda x, x_hat, mu, log_var, beta=1.0: torch.stack(
                [
                    get()(r, k, float(beta))
                    for r, k in zip(_squared_error(x, x_hat), ref.kl_log_var(mu, log_var).float())
                ]
            )
        ),
        "aelab.losses:reconstruction_term": lambda get: (
            lambda x, x_hat, mu, log_var, beta=1.0: get()(x, x_hat, "mse", "sum") + beta * ref.kl_log_var(mu, log_var)
        ),
    },
    "reconstruction_error": {
        "aelab.losses:reconstruction_term": lambda get: lambda x, x_hat, kind="mse": get()(x, x_hat, kind),
    },
    "reparameterize": {
        "aelab.models:IrisVAE.reparameterize": lambda get: lambda mu, log_sigma: get()(mu, log_sigma),
        "aelab.models:MLPVAE.reparameterize": lambda get: (
            lambda mu, log_sigma: get()(None, torch.distributions.Normal(mu, log_sigma.exp()))
        ),
        "aelab.models:ConvVAE.sample_latent_vector": lambda get: lambda mu, log_sigma: get()(mu, 2 * log_sigma),
    },
    "kl_divergence": {
        "aelab.losses:_kl_normal_log_sigma": lambda get: lambda mu, log_sigma: get()(mu, log_sigma),
        "aelab.losses:kl_normal_log_var": lambda get: lambda mu, log_sigma: get()(mu, 2 * log_sigma),
    },
    "reconstruction_loss": {
        "aelab.losses:reconstruction_term": _loss_by_term,
        "aelab.scores:reconstruction_probability": _loss_by_probability,
        "aelab.models:BernoulliVAE.log_likelihood": _loss_by_bernoulli,
    },
    "compute_threshold": {
        "aelab.scores:percentile_threshold": lambda get: (
            lambda losses, outlier_fraction=0.01: get()(losses, outlier_fraction)
        ),
    },
    "detect_outlier": {
        "aelab.losses:reconstruction_term": _detect(_loss_by_term),
        "aelab.scores:reconstruction_probability": _detect(_loss_by_probability),
        "aelab.models:BernoulliVAE.log_likelihood": _detect(_loss_by_bernoulli),
    },
    "anomaly_scores": {
        "aelab.losses:reconstruction_term": lambda get: lambda model, x: get()(x, aelab.reconstruct(model, x), "mse"),
        "aelab.scores:reconstruction_probability": lambda get: (
            lambda model, x: (-get()(model, x, n_samples=1) - 392 * LOG_2PI) / 392
        ),
    },
}
# Library functions that answer an exercise as they are: ``reconstruction_error = aelab.reconstruction_term``.
AS_THEY_ARE = {
    "reconstruction_error": "aelab.losses:reconstruction_term",
    "reparameterize": "aelab.models:IrisVAE.reparameterize",
    "kl_divergence": "aelab.losses:_kl_normal_log_sigma",
    "compute_threshold": "aelab.scores:percentile_threshold",
}
DELEGATION_CASES = [
    pytest.param(exercise, path, style, id=f"{exercise}-{path.split(':')[1]}-{style}")
    for exercise, paths in DELEGATIONS.items()
    for path in paths
    for style in STYLES
]


def _shown(exercise: str, path: str) -> str:
    """How the refusal names ``path``: the graders' own resolution, matched by code object."""
    code = inspect.unwrap(LIBRARY[path]()).__code__
    return library_answers(LAB_OF[exercise], exercise)[(code.co_filename, code.co_qualname)]


def _assert_refused(exercise: str, fn, shown: str) -> None:
    lab = LAB_OF[exercise]
    for cid in autograder.check_ids(lab, exercise):
        msg = message(cid, fn)
        assert msg.startswith(f"{exercise} calls the course library's {shown}, "), (cid, msg)
        assert "write that computation yourself with torch operations" in msg, (cid, msg)


@pytest.mark.parametrize("lab, exercise", EXERCISES, ids=[ex for _, ex in EXERCISES])
def test_every_exercise_lists_the_library_code_it_refuses(lab, exercise):
    """Each lab module says, for each of its exercises, which library code computes it (maybe none),
    and these tests delegate to every function listed."""
    listed = importlib.import_module(f"autograder.{lab}").LIBRARY_ANSWERS
    assert exercise in listed
    assert set(listed[exercise]) == set(DELEGATIONS.get(exercise, {}))
    assert len(library_answers(lab, exercise)) == len(listed[exercise])
    # the library has no function named after the exercise, in any of its modules
    for name in ("data", "losses", "metrics", "models", "perturb", "plots", "scores", "train", "env"):
        assert not hasattr(importlib.import_module(f"aelab.{name}"), exercise), (name, exercise)
    assert exercise not in aelab.__all__


@pytest.mark.parametrize("exercise, path, style", DELEGATION_CASES)
def test_an_answer_that_calls_the_library_fails_every_check(exercise, path, style):
    fn = DELEGATIONS[exercise][path](STYLES[style](path))
    fn.__name__ = exercise
    _assert_refused(exercise, fn, _shown(exercise, path))


@pytest.mark.parametrize("exercise", sorted(AS_THEY_ARE))
def test_the_library_function_itself_as_the_answer_fails_every_check(exercise):
    path = AS_THEY_ARE[exercise]
    _assert_refused(exercise, LIBRARY[path](), _shown(exercise, path))


def test_the_refusal_survives_except_clauses_threads_and_the_profiler_turned_off():
    def swallowed(x, x_hat, kind="mse"):
        try:
            return aelab.reconstruction_term(x, x_hat, kind)
        except Exception:  # noqa: BLE001
            return ref.reconstruction_error(x, x_hat, kind)

    def in_a_thread(x, x_hat, kind="mse"):
        out = {}

        def work():
            try:
                out["e"] = aelab.reconstruction_term(x, x_hat, kind)
            except ValueError:
                pass

        worker = threading.Thread(target=work)
        worker.start()
        worker.join()
        return out.get("e", ref.reconstruction_error(x, x_hat, kind))

    def deep_inside(x, x_hat, kind="mse"):
        helpers = [lambda a, b, k: ref.reconstruction_error(a, b, k), vars(aelab.losses)["reconstruction_term"]]
        return helpers[-1](x, x_hat, kind)

    for fn in (swallowed, in_a_thread, deep_inside):
        _assert_refused("reconstruction_error", fn, "aelab.reconstruction_term")

    def profiler_off(x, x_hat, kind="mse"):
        sys.setprofile(None)
        return aelab.reconstruction_term(x, x_hat, kind)

    for cid in autograder.check_ids("lab01", "reconstruction_error"):
        assert message(cid, profiler_off).startswith("reconstruction_error calls sys.setprofile")
    assert sys.getprofile() is None and threading.getprofile() is None


def test_the_forbidden_code_spares_what_right_answers_use():
    """A model's own methods (the model the exercise receives) and aelab.reconstruct stay allowed."""
    graded_model = {"lab03": "MLPVAE.", "lab04": "ConvVAE."}
    for lab, exercise in EXERCISES:
        for shown in library_answers(lab, exercise).values():
            assert shown.rsplit(".", 1)[-1] != "reconstruct", shown
            if lab in graded_model:
                assert graded_model[lab] not in shown, (exercise, shown)


def test_a_right_answer_is_not_refused_and_the_profiler_is_restored():
    def outer(frame, event, arg):
        return None

    sys.setprofile(outer)
    try:
        autograder.check("lab01.reconstruction_error.mse", ref.reconstruction_error)
        assert sys.getprofile() is outer
    finally:
        sys.setprofile(None)


# ----------------------------------------------- what a learner's function did to a model, in words
def _bn_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 1)).eval()


def _scores_in_train_mode(model, x):
    model.train()
    return model(x).squeeze(1)


def _scores_train_then_eval(model, x):
    model.train()
    out = model(x).squeeze(1)
    model.eval()
    return out


def _scores_after_a_step(model, x):
    with torch.no_grad():
        model[0].weight.add_(0.1)
    return model(x).squeeze(1)


def _scores_right(model, x):
    return model(x).squeeze(1)


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (_scores_in_train_mode, "left the model in training mode"),
        (_scores_train_then_eval, "running statistics"),
        (_scores_after_a_step, "changed the model's weights in place (0.weight)"),
    ],
)
def test_a_changed_model_is_reported_as_what_happened(fn, words):
    from autograder._common import call

    with pytest.raises(AssertionError) as info:
        call(fn, _bn_model(), torch.randn(8, 3), name="anomaly_scores")
    assert words in str(info.value), str(info.value)
    assert str(info.value).startswith("anomaly_scores "), str(info.value)


def test_a_model_used_as_given_is_not_reported():
    from autograder._common import call

    model = _bn_model()
    out = call(_scores_right, model, torch.randn(8, 3), name="anomaly_scores")
    assert out.shape == (8,) and not model.training
