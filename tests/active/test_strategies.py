import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxtricks.active import (alfamix_candidates, alfamix_select, badge, bald, class_anchors, entropy,
                              gradient_embedding, kcenter_greedy, least_confidence, margin,
                              nearest_to_centres, penalty_matrix, random_selection, select_top)
from tests.conftest import golden_cases, load_golden


@pytest.mark.parametrize("path", golden_cases("active", "uncertainty_*.npz"))
def test_uncertainty_scores_match_modal_and_baal(path):
  g = load_golden(path)
  logits = jnp.asarray(g["logits"])
  np.testing.assert_allclose(least_confidence(logits), g["modal_least_conf"], atol=1e-6)
  np.testing.assert_allclose(margin(logits), 1 - g["modal_margin"], atol=1e-6)
  np.testing.assert_allclose(entropy(logits), g["modal_entropy"], atol=1e-5)
  np.testing.assert_allclose(entropy(logits), g["baal_entropy_scores"], atol=1e-5)
  assert np.all(np.isfinite(entropy(logits)))
  everyone = jnp.ones(len(logits), bool)
  n = int(g["n_query"])
  for fn, key in ((least_confidence, "modal_least_conf_sampling_idx"),
                  (margin, "modal_margin_sampling_idx"), (entropy, "modal_entropy_sampling_idx")):
    assert set(np.asarray(select_top(fn(logits), n, everyone)).tolist()) == set(g[key].tolist())


@pytest.mark.parametrize("path", golden_cases("active", "bald_*.npz"))
def test_bald_matches_the_three_references(path):
  g = load_golden(path)
  scores = bald(jnp.asarray(g["mc_logits"]))
  np.testing.assert_allclose(scores, g["baal_bald_scores"], atol=1e-5)
  np.testing.assert_allclose(scores, -g["alfa_bald_score_negMI"], atol=1e-5)
  picks = select_top(scores, int(g["n_query"]), jnp.ones(scores.shape, bool))
  np.testing.assert_array_equal(picks, g["alfa_bald_selected_unl_pos"])


@pytest.mark.parametrize("path", golden_cases("active", "kcenter_greedy_*.npz"))
def test_kcenter_greedy_matches_official_order(path):
  g = load_golden(path)
  picks = kcenter_greedy(g["embeddings"], g["labelled_mask"], int(g["budget"]), chunk_size=7)
  np.testing.assert_array_equal(picks, g["alfa_coreset_selected_pool_idx"])
  np.testing.assert_array_equal(picks, g["google_kcenter_selected_pool_idx"])


@pytest.mark.parametrize("path", golden_cases("active", "badge_*.npz"))
def test_badge_gradient_embedding_and_first_centre(path):
  g = load_golden(path)
  unl = g["unlabelled_pool_idx"]
  z = jnp.asarray(g["embeddings_pool"][unl])
  logits = z @ g["W"].T + g["b"]
  np.testing.assert_allclose(gradient_embedding(logits, z), g["grad_embedding_unl"], atol=1e-5)
  picks = np.asarray(badge(jax.random.key(0), logits, z, jnp.ones(len(unl), bool), int(g["budget"])))
  assert picks[0] == int(g["first_center_unl_pos"])
  assert len(set(picks.tolist())) == len(picks)


@pytest.mark.parametrize("path", golden_cases("active", "alfamix_*.npz"))
def test_alfamix_candidate_sets_match_official(path):
  g = load_golden(path)
  lab = g["labelled_mask"].astype(bool)
  emb = g["embeddings_pool"]
  anchors = class_anchors(jnp.asarray(emb[lab]), jnp.asarray(g["labels_pool"][lab]), int(g["n_label"]))
  np.testing.assert_allclose(anchors, g["anchors"], atol=1e-5)
  mode = ("closed_form" if bool(g["closed_form"]) else "learned" if bool(g["alpha_opt"]) else "random")
  candidates, per_cap = alfamix_candidates(
      emb[g["unlabelled_pool_idx"]], g["W"].T, g["b"], anchors, int(g["budget"]),
      cap_step=float(g["alpha_cap_step"]), mode=mode, alpha_init=g.get("generated_alpha_init"),
      learning_rate=float(g["alpha_learning_rate"]), l2_coef=float(g["alpha_l2_coef"]))
  assert len(per_cap) == int(g["n_cap_iterations"])
  np.testing.assert_array_equal(np.stack(per_cap), g["pred_change_per_iter"])
  np.testing.assert_array_equal(candidates, g["candidate_mask_unl"])
  # The official pick rule, given the official k-means state.
  picks = nearest_to_centres(g["candidate_feats_l2norm"], g["kmeans_labels"], g["kmeans_centers"])
  np.testing.assert_array_equal(np.flatnonzero(candidates)[picks], g["selected_unl_pos_kmeans"])
  # Our selection: budget distinct points, candidates first (the official fill has duplicates).
  chosen = alfamix_select(0, emb[g["unlabelled_pool_idx"]], candidates, int(g["budget"]))
  assert len(set(chosen.tolist())) == len(chosen) == int(g["budget"])
  k = min(int(g["budget"]), int(candidates.sum()))
  assert candidates[chosen[:k]].all()


def test_alfamix_with_no_candidates_fills_randomly_without_duplicates():
  chosen = alfamix_select(3, np.random.default_rng(0).normal(size=(20, 4)), np.zeros(20, bool), 7)
  assert len(set(chosen.tolist())) == 7


@pytest.mark.parametrize("path", golden_cases("active", "comp_matrix*.npz"))
def test_penalty_matrix_matches_official(path):
  g = load_golden(path)
  accs = g["accs"][:, :, 1:]
  np.testing.assert_allclose(penalty_matrix(accs, threshold=float(g["t_crit"]), ddof=0),
                             g["penalty_matrix"])
  np.testing.assert_allclose(penalty_matrix(accs, ddof=0), g["penalty_matrix"])


def test_penalty_matrix_uses_students_paired_t_by_default():
  """Sample std (ddof = 1): a gap whose population-std t clears the cutoff but whose Student t does
  not is a win only with the official ddof = 0."""
  from scipy import stats
  d = np.array([0.01, 0.03, 0.05])  # Mean 0.03: t = 2.60 with ddof 1, 3.18 with ddof 0.
  accs = np.stack([0.5 + d, np.full(3, 0.5)])[:, :, None]
  cutoff = 2.9
  assert penalty_matrix(accs, threshold=cutoff, ddof=0)[0, 1] == 1.0
  assert penalty_matrix(accs, threshold=cutoff)[0, 1] == 0.0
  assert stats.ttest_rel(accs[0, :, 0], accs[1, :, 0]).statistic == pytest.approx(np.sqrt(3) * 0.03 / 0.02)
  with pytest.raises(ValueError, match="ddof must be 0"):
    penalty_matrix(accs, ddof=2)


def test_random_selection_is_distinct_and_unlabelled():
  unlabelled = jnp.arange(50) % 3 != 0
  picks = np.asarray(random_selection(jax.random.key(1), unlabelled, 20))
  assert len(set(picks.tolist())) == 20 and np.all(np.asarray(unlabelled)[picks])
  with pytest.raises(ValueError, match="budget"):
    random_selection(jax.random.key(1), unlabelled, 40)


def test_select_top_refuses_a_budget_larger_than_the_unlabelled_pool():
  scores = jnp.arange(6.0)
  unlabelled = jnp.array([False, True, False, True, False, False])
  np.testing.assert_array_equal(np.asarray(select_top(scores, 2, unlabelled)), [3, 1])
  with pytest.raises(ValueError, match="budget=5 exceeds the 2 unlabelled points"):
    select_top(scores, 5, unlabelled)
