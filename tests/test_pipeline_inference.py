"""EPIR inference as the labelling stage runs it: IO binding on the provider's device, warmed up at load."""

from __future__ import annotations

import numpy as np

from app.classifier import DEFAULT_MODEL, Classifier


def test_io_binding_gives_what_a_plain_session_run_gives():
    classifier = Classifier(DEFAULT_MODEL, "cpu")
    assert classifier.device == "cpu" and classifier.provider_label == "CPU"
    spec = classifier.card.input
    batch = np.random.default_rng(0).random((3, len(spec.channels), spec.height, spec.width), dtype=np.float32)
    probs, attention = classifier.run(batch)
    logits, expected_attention = classifier.session.run(["logits", "attention"], {spec.name: batch})
    calibration = classifier.card.calibration  # temperature scaling, when the card carries one
    logits = logits / (calibration.temperature if calibration else 1.0)
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(probs, expected / expected.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(attention, expected_attention, rtol=1e-5, atol=1e-7)
    assert probs.shape == (3, len(classifier.card.classes))
    # A batch of one after a batch of three: the binding is made per call, not reused with a stale shape.
    single, _ = classifier.run(batch[1:2].astype(np.float64))
    np.testing.assert_allclose(single[0], probs[1], rtol=1e-5, atol=1e-6)
