"""Known-answer tests of the Qt-free analyses in vitstudio.analysis."""

import itertools
import math

import numpy as np
import pytest
import torch
from PIL import Image

from vitstudio import analysis as A
from vitstudio.models import VisionTransformer
from vitstudio.models.pos_embed import sincos_2d

# -- patches ------------------------------------------------------------------------------------


def test_patches_cut_in_token_order_and_reassemble_exactly():
    image = np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8)
    grid = A.patchify(image, (4, 5))
    assert grid.shape == (3, 4, 4, 5, 3)
    np.testing.assert_array_equal(grid[2, 1], image[8:12, 5:10])
    seq = A.patch_sequence(grid)
    assert seq.shape == (12, 4, 5, 3)
    np.testing.assert_array_equal(seq[2 * 4 + 1], image[8:12, 5:10])  # token k is patch (k // gw, k % gw)
    np.testing.assert_array_equal(A.unpatchify(grid), image)


def test_patches_reject_a_size_the_patch_does_not_divide():
    with pytest.raises(ValueError, match="not divisible by the patch size"):
        A.patchify(np.zeros((10, 16, 3)), 4)


# -- class-token attention -----------------------------------------------------------------------


def test_token_attention_reads_the_rows_of_prefix_tokens_on_a_rectangular_grid():
    n_prefix, grid = 2, (2, 3)  # DeiT: class and distillation token
    n = n_prefix + 6
    attn = np.arange(2 * 4 * n * n, dtype=float).reshape(2, 4, n, n)  # (layers, heads, N, N)
    maps = A.token_attention(attn, grid, n_prefix)
    assert maps.shape == (2, 4, 2, 3)
    np.testing.assert_array_equal(maps[1, 3], attn[1, 3, 0, 2:].reshape(2, 3))
    np.testing.assert_array_equal(
        A.token_attention(attn, grid, n_prefix, token=1)[0, 0], attn[0, 0, 1, 2:].reshape(2, 3)
    )
    np.testing.assert_array_equal(
        A.token_attention(attn, grid, n_prefix, token=None)[0, 1], attn[0, 1, 2:, 2:].mean(0).reshape(2, 3)
    )  # mean over the patch queries
    with pytest.raises(ValueError, match="2x3 patch grid"):
        A.token_attention(attn, grid, num_prefix_tokens=1)


# -- attention rollout ---------------------------------------------------------------------------


def layer(*rows):
    """One layer of one head: (1, N, N)."""
    return np.array(rows, dtype=float)[None]


def test_rollout_of_self_attention_leaves_the_class_token_on_itself():
    attn = np.broadcast_to(np.eye(5), (3, 2, 5, 5))
    np.testing.assert_array_equal(A.attention_rollout(attn, (2, 2)), np.zeros((2, 2)))


def test_rollout_of_one_layer_adds_the_identity_and_renormalises():
    attn = layer([0.2, 0.6, 0.2], [0.0, 1.0, 0.0], [0.5, 0.0, 0.5])[None]
    # (W + I) / 2, class-token row [0.6, 0.3, 0.1]
    np.testing.assert_allclose(A.attention_rollout(attn, (1, 2)), [[0.3, 0.1]])


def test_rollout_multiplies_later_layers_on_the_left():
    swap = layer([1, 0, 0], [0, 0, 1], [0, 1, 0])  # patches attend to each other
    to_first = layer([0, 1, 0], [0, 1, 0], [0, 0, 1])  # class token attends to patch 1
    # A2 @ A1 row 0 = 0.5 [1, 0, 0] + 0.5 [0, .5, .5]; the other order would give [0.5, 0]
    np.testing.assert_allclose(A.attention_rollout(np.stack([swap, to_first]), (1, 2)), [[0.25, 0.25]])
    np.testing.assert_allclose(A.attention_rollout(np.stack([to_first, swap]), (1, 2)), [[0.5, 0.0]])


@pytest.mark.parametrize(
    "fusion, expected", [("mean", [[0.25, 0.25]]), ("max", [[1 / 3, 1 / 3]]), ("min", [[0.0, 0.0]])]
)
def test_rollout_head_fusion(fusion, expected):
    h0 = [[0, 1, 0], [0, 1, 0], [0, 0, 1]]
    h1 = [[0, 0, 1], [0, 1, 0], [0, 0, 1]]
    attn = np.array([[h0, h1]], dtype=float)  # (1 layer, 2 heads, 3, 3)
    np.testing.assert_allclose(A.attention_rollout(attn, (1, 2), head_fusion=fusion), expected)


def test_rollout_discards_the_lowest_weights_before_the_identity():
    attn = layer([0.05, 0.7, 0.25], [0.15, 0.35, 0.5], [0.6, 0.3, 0.1])[None]
    # the 3 lowest of 9 weights (0.05, 0.1, 0.15) are zeroed; row 0 -> [0, .7, .25] + [1, 0, 0], renormalised
    np.testing.assert_allclose(A.attention_rollout(attn, (1, 2), discard_ratio=0.34), [[0.7 / 1.95, 0.25 / 1.95]])
    with pytest.raises(ValueError, match="discard_ratio"):
        A.attention_rollout(attn, (1, 2), discard_ratio=1.0)


def test_rollout_without_a_class_token_averages_the_rows():
    # 2 patches, no prefix: patch 0 attends to itself, patch 1 to patch 0 -> A = [[1, 0], [.5, .5]]
    attn = layer([1, 0], [1, 0])[None]
    np.testing.assert_allclose(A.attention_rollout(attn, (1, 2), num_prefix_tokens=0, token=None), [[0.75, 0.25]])


def test_rollout_keeps_batch_axes_apart():
    rng = np.random.default_rng(1)
    attn = rng.random((3, 2, 4, 7, 7))  # (layers, batch, heads, N, N)
    attn /= attn.sum(-1, keepdims=True)
    both = A.attention_rollout(attn, (2, 3), head_fusion="max", discard_ratio=0.5)
    assert both.shape == (2, 2, 3)
    for b in range(2):
        one = A.attention_rollout(attn[:, b], (2, 3), head_fusion="max", discard_ratio=0.5)
        np.testing.assert_allclose(both[b], one)


# -- mean attention distance ---------------------------------------------------------------------


def test_patch_distances_between_centres():
    np.testing.assert_allclose(A.patch_distances((1, 3), 10), [[0, 10, 20], [10, 0, 10], [20, 10, 0]])
    np.testing.assert_allclose(A.patch_distances((2, 2), (8, 6))[0, 3], 10.0)


def test_mean_attention_distance_is_zero_for_self_attention():
    attn = np.broadcast_to(np.eye(1 + 12), (2, 3, 4, 13, 13))  # (layers, batch, heads, N, N)
    np.testing.assert_array_equal(A.mean_attention_distance(attn, (3, 4), 16), np.zeros((2, 4)))


def test_mean_attention_distance_of_uniform_attention_is_the_mean_pairwise_distance():
    # 2x2 grid of p-pixel patches: of 16 pairs, 4 at 0, 8 at p, 4 at p*sqrt(2); the class token's share is left out
    p = 16
    uniform = np.full((1, 1, 5, 5), 1 / 5)
    np.testing.assert_allclose(A.mean_attention_distance(uniform, (2, 2), p), [[p * (2 + math.sqrt(2)) / 4]])
    # a rectangular 2x1 grid of 8x4-pixel patches: the two centres are 8 pixels apart
    np.testing.assert_allclose(A.mean_attention_distance(np.full((1, 1, 2, 2), 0.5), (2, 1), (8, 4), 0), [[4.0]])


def test_mean_attention_distance_per_head_averaged_over_images():
    eye, uniform = np.eye(5), np.full((5, 5), 0.2)
    attn = np.array([[[eye, uniform], [uniform, uniform]]])  # layer 0, images 0-1, heads 0-1
    analytic = 16 * (2 + math.sqrt(2)) / 4
    np.testing.assert_allclose(A.mean_attention_distance(attn, (2, 2), 16), [[analytic / 2, analytic]])


# -- position-embedding similarity ---------------------------------------------------------------


def test_position_similarity_of_sincos_is_symmetric_one_on_the_diagonal_and_falls_with_distance():
    gh, gw = 6, 10
    sim = A.position_similarity(sincos_2d(64, (gh, gw))[0], (gh, gw))
    assert sim.shape == (gh, gw, gh, gw)
    flat = sim.reshape(gh * gw, gh * gw)
    np.testing.assert_allclose(flat, flat.T, atol=1e-12)
    np.testing.assert_allclose(np.diag(flat), 1.0, atol=1e-6)
    for i in range(gh):
        for j in range(gw):
            for di, dj in ((0, 1), (1, 0), (0, -1), (-1, 0)):
                steps = [
                    sim[i, j, i + k * di, j + k * dj] for k in range(4) if 0 <= i + k * di < gh and 0 <= j + k * dj < gw
                ]
                assert all(b < a for a, b in itertools.pairwise(steps)), (i, j, di, dj, steps)
    dist = A.patch_distances((gh, gw), 1)
    assert flat[dist == 1].min() > flat[dist >= 4].max()


@pytest.mark.parametrize("kind", ["learned", "learned_2d", "sincos_2d"])
def test_patch_position_embedding_leaves_out_prefix_tokens(kind):
    model = VisionTransformer(
        img_size=(16, 24), patch_size=4, embed_dim=32, depth=1, num_heads=2, pos_embed=kind, num_extra_tokens=1
    )
    pos = A.patch_position_embedding(model)
    assert pos.shape == (4 * 6, 32)
    if kind == "sincos_2d":
        np.testing.assert_allclose(pos, sincos_2d(32, (4, 6))[0], atol=1e-7)
    if kind == "learned":
        np.testing.assert_array_equal(pos, model.pos_embed[0, 2:].detach().numpy())


def test_patch_position_embedding_of_a_model_without_one_says_so():
    model = VisionTransformer(img_size=16, patch_size=4, embed_dim=32, depth=1, num_heads=2, pos_embed="none")
    with pytest.raises(ValueError, match="no position embedding"):
        A.patch_position_embedding(model)


# -- patch-embedding filters ---------------------------------------------------------------------


@pytest.mark.parametrize("copies", [1, 2])  # 8 filters of 12 values (Gram matrix path), 16 (covariance path)
def test_filter_pca_recovers_the_directions_of_a_known_weight(copies):
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(12, 2)))  # two orthonormal directions in 3*2*2 space
    u, v = basis.T
    u = u * np.sign(u[np.abs(u).argmax()])  # the convention: the largest entry is positive
    v = v * np.sign(v[np.abs(v).argmax()])
    a = np.array([2, -2, 2, -2, 2, -2, 2, -2.0])  # zero mean, orthogonal to b, 4x b's variance
    b = np.array([1, 1, -1, -1, 1, 1, -1, -1.0])
    weight = a[:, None] * u + b[:, None] * v + rng.normal(size=12)  # + a filter common to all: removed as the mean
    weight = np.concatenate([weight] * copies)
    comps, explained = A.filter_pca(torch.tensor(weight.reshape(8 * copies, 3, 2, 2)), n_components=2)
    assert comps.shape == (2, 2, 2, 3)  # (n, kh, kw, C)
    np.testing.assert_allclose(comps[0], u.reshape(3, 2, 2).transpose(1, 2, 0), atol=1e-10)
    np.testing.assert_allclose(comps[1], v.reshape(3, 2, 2).transpose(1, 2, 0), atol=1e-10)
    np.testing.assert_allclose(explained, [0.8, 0.2], atol=1e-12)


def test_patch_filters_of_a_vit_are_its_patch_projection():
    model = VisionTransformer(img_size=32, patch_size=8, embed_dim=48, depth=1, num_heads=2)
    filters = A.patch_filters(model, n_components=5)
    assert filters.components.shape == (5, 8, 8, 3)
    assert "48 linear filters of 8x8 pixels" in filters.note
    assert filters.explained[0] >= filters.explained[-1] > 0


# -- predictions ---------------------------------------------------------------------------------


def test_top_k_orders_classes_by_probability():
    probs = [0.05, 0.5, 0.12, 0.2, 0.08, 0.05]
    names = list("abcdef")
    top = A.top_k(torch.tensor(probs).log(), k=3, class_names=names)
    assert [n for n, _ in top] == ["b", "d", "c"]
    np.testing.assert_allclose([p for _, p in top], [0.5, 0.2, 0.12], rtol=1e-6)
    assert len(A.top_k(torch.zeros(3), k=5)) == 3
    with pytest.raises(ValueError, match="3 class names for 6 classes"):
        A.top_k(torch.zeros(6), class_names=["a", "b", "c"])


def test_predict_a_classifier():
    model = VisionTransformer(img_size=16, patch_size=4, num_classes=7, embed_dim=32, depth=1, num_heads=2).eval()
    x = torch.randn(1, 3, 16, 16)
    preds = A.predict(model, x, k=5)
    assert list(preds) == ["prediction"]
    expected = model(x)[0].softmax(0).topk(5)
    assert [n for n, _ in preds["prediction"]] == [f"class {i}" for i in expected.indices.tolist()]
    np.testing.assert_allclose([p for _, p in preds["prediction"]], expected.values.tolist(), rtol=1e-6)


# -- images --------------------------------------------------------------------------------------


def test_load_image_converts_16_bit_and_transparent_images(tmp_path):
    Image.fromarray(np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)).save(tmp_path / "deep.png")
    gray = A.load_image(tmp_path / "deep.png")
    assert gray.shape == (2, 2, 3) and gray.dtype == np.uint8
    # the pixels training sees (`data.open_image`): 16-bit values scaled by 65535, the same for every image
    np.testing.assert_array_equal(gray[..., 0], [[0, 4], [8, 16]])
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red; the rest transparent -> white
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    np.testing.assert_array_equal(A.load_image(tmp_path / "alpha.png")[:, :, 1], [[0, 255], [255, 255]])


def test_load_image_names_a_missing_or_corrupt_file(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(ValueError, match="broken.jpg: not a readable image"):
        A.load_image(tmp_path / "broken.jpg")
    with pytest.raises(ValueError, match="nothing.png: no such image file"):
        A.load_image(tmp_path / "nothing.png")


def test_fit_image_covers_then_crops_the_centre():
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, 10:30] = 255  # the centre square is white, the sides black
    fitted = A.fit_image(image, (10, 10))
    assert fitted.shape == (10, 10, 3)
    assert fitted[:, 1:-1].min() >= 250  # only the white centre is left (edges blend with black)


def test_normalize_and_denormalize_round_trip():
    image = np.random.default_rng(0).integers(0, 256, (8, 6, 3), dtype=np.uint8)
    x = A.normalize(image, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    assert x.shape == (1, 3, 8, 6)
    np.testing.assert_allclose(x[0, 1, 2, 3].item(), (image[2, 3, 1] / 255 - 0.4) / 0.25, rtol=1e-6)
    np.testing.assert_array_equal(A.denormalize(x, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)), image)


def test_bundled_sample_images_load_and_are_credited():
    samples = A.bundled_images()
    shapes = [p for p in samples if p.name.startswith("shape_")]
    assert len(samples) - len(shapes) >= 4 and len(shapes) >= 5
    credits = (samples[0].parent / "CREDITS.md").read_text()
    for path in samples:
        image = A.load_image(path)
        side = min(image.shape[:2])
        assert (side == 64) if path in shapes else (224 <= side <= 320)
        assert f"`{path.name}`" in credits
