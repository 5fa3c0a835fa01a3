"""The analyses on the whole model family: DeiT's two prefix tokens, a hybrid's stem, MAE's reconstructions."""

import numpy as np
import pytest
import torch

from vitstudio import analysis as A
from vitstudio.analysis import figures
from vitstudio.models import create_model


def test_deit_predictions_by_head_and_its_distillation_token_attention():
    model = create_model("deit_nano_distilled_patch4_32", depth=2).eval()
    x = torch.randn(1, 3, 32, 32)
    preds = A.predict(model, x, k=3)
    assert list(preds) == ["class head", "distillation head", "average"]
    expected = model(x)[0].softmax(0).topk(3)  # eval mode: the mean of the two heads' logits
    np.testing.assert_allclose([p for _, p in preds["average"]], expected.values.tolist(), rtol=1e-5)
    assert [n for n, _ in preds["average"]] == [f"class {i}" for i in expected.indices.tolist()]
    attn = A.collect_attention(model, x)[:, 0]
    assert attn.shape == (2, 4, 2 + 64, 2 + 64)
    dist = A.token_attention(attn, (8, 8), num_prefix_tokens=2, token=1)
    np.testing.assert_array_equal(dist[1, 3], attn[1, 3, 1, 2:].reshape(8, 8))


@pytest.mark.parametrize("name, kernel", [("vit_micro_r_s4_p1_32", 7), ("vit_micro_resnet18_s4_32", 3)])
def test_a_hybrid_shows_its_stem_filters_and_measures_distance_in_its_stride(name, kernel):
    model = create_model(name, depth=2).eval()
    filters = A.patch_filters(model, n_components=4)
    assert filters.components.shape == (4, kernel, kernel, 3)
    assert "hybrid" in filters.note and "1x1 conv" in filters.note
    geo = A.geometry(model)
    assert geo.patch_px == (32 // geo.grid[0], 32 // geo.grid[1]) and geo.patch_px[0] > 1


def test_bit_stem_filters_are_analysed_standardised():
    model = create_model("vit_micro_r_s4_p1_32", depth=1).eval()
    conv, _ = A.image_conv(model)
    filters = A.patch_filters(model, n_components=3)
    comps, _ = A.filter_pca(conv.standardized_weight(), n_components=3)
    np.testing.assert_allclose(filters.components, comps, atol=1e-6)
    assert "weight-standardised" in filters.note


def test_mae_panels_follow_the_mask_ratio_and_the_seed():
    model = create_model("mae_vit_nano_patch4_32", depth=1, decoder_depth=1).eval()
    x = A.normalize(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    panels = A.mae_reconstruction(model, x, mask_ratio=0.75, seed=3)
    for image in panels.panels().values():
        assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    mask = A.masking_noise(model, 3).argsort(1).argsort(1)[0] >= 16  # MAE keeps the 16 lowest-noise of 64 patches
    grid_mask = np.kron(mask.reshape(8, 8).numpy(), np.ones((4, 4), bool))  # per pixel, True = removed
    np.testing.assert_array_equal(panels.pasted[~grid_mask], panels.original[~grid_mask])  # visible pasted back
    np.testing.assert_array_equal(panels.pasted[grid_mask], panels.reconstruction[grid_mask])
    assert panels.note == ""
    same = A.mae_reconstruction(model, x, mask_ratio=0.75, seed=3)
    np.testing.assert_array_equal(same.pasted, panels.pasted)
    other = A.mae_reconstruction(model, x, mask_ratio=0.75, seed=4)
    assert not np.array_equal(other.masked, panels.masked)
    fewer = A.mae_reconstruction(model, x, mask_ratio=0.25, seed=3)
    assert (fewer.masked != fewer.original).any(-1).sum() < (panels.masked != panels.original).any(-1).sum()


def test_norm_pix_reconstructions_are_the_raw_prediction_and_say_so():
    model = create_model("mae_vit_nano_patch4_32", depth=1, decoder_depth=1, norm_pix_loss=True).eval()
    x = A.normalize(np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    panels = A.mae_reconstruction(model, x, mask_ratio=0.5, seed=0)
    _, raw, _ = model(x, mask_ratio=0.5, noise=A.masking_noise(model, 0))
    np.testing.assert_array_equal(panels.reconstruction, A.denormalize(model.unpatchify(raw)[0]))
    assert "norm_pix_loss" in panels.note and "cannot be put back" in panels.note


def test_inspection_of_a_pretraining_model_has_no_predictions():
    model = create_model("mpp_vit_nano_patch4_32", depth=1).eval()
    insp = A.inspect_image(model, np.zeros((40, 40, 3), np.uint8))
    assert insp.predictions is None and insp.attention.shape[0] == 1


def test_attention_distance_over_images_is_the_mean_of_each_images_distance():
    model = create_model("vit_nano_patch4_32", depth=2).eval()
    images = [A.load_image(p) for p in A.bundled_images()[:3]]
    each = [A.inspect_image(model, im).distance for im in images]
    for batch_size in (1, 2, 16):
        np.testing.assert_allclose(
            A.attention_distance(model, images, batch_size=batch_size), np.mean(each, 0), rtol=1e-9
        )


def test_example_images_fall_back_to_the_bundled_samples_and_say_why(tmp_path):
    from vitstudio.analysis.sources import ModelSource, example_images
    from vitstudio.config import DataConfig

    model = create_model("vit_nano_patch4_32", depth=1)
    images, what = example_images(ModelSource(model, "m"), 4)
    assert len(images) == 4 and what == "the 4 bundled sample images"
    missing = DataConfig(name="cifar10", root=str(tmp_path))
    images, what = example_images(ModelSource(model, "m", data=missing), 40)
    assert len(images) == len(A.bundled_images()) and "cifar10 is not available" in what and str(tmp_path) in what


def test_the_readout_follows_the_models_pooling():
    pooled = create_model("vit_nano_patch4_32", depth=1, global_pool="avg").eval()
    assert create_model("vit_nano_patch4_32", depth=1).readout_token == 0
    assert pooled.readout_token is None  # the class token exists but the head averages the patches
    assert create_model("vit_nano_patch4_32", depth=1, global_pool="avg", class_token=False).readout_token is None
    insp = A.inspect_image(pooled, A.load_image(A.bundled_images()[0]))
    patch_mean = A.attention_rollout(insp.attention, insp.geometry.grid, 1, token=None)
    class_row = A.attention_rollout(insp.attention, insp.geometry.grid, 1, token=0)
    fig = figures.attention_figure(insp, rollout=True)
    assert np.array_equal(fig, figures.attention_figure(insp, rollout=True, token=None))
    assert not np.array_equal(fig, figures.attention_figure(insp, rollout=True, token=0))
    assert not np.allclose(patch_mean, class_row)
