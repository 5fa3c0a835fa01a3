"""MAE: parity with transformers' ViTMAEForPreTraining, masking, patchify, reconstruction, transfer to a ViT."""

import pytest
import torch
from conftest import pretraining_losses, rel_err

from vitstudio.models import MaskedAutoencoderViT, VisionTransformer, create_model, load_pretrained, pretrained_to_vit
from vitstudio.models.mae import random_masking

transformers = pytest.importorskip("transformers")

TOL = 1e-5


def _pair(norm_pix_loss, decoder=(32, 2, 4), img=32, patch=8, dim=64, depth=2, heads=4):
    dec_dim, dec_depth, dec_heads = decoder
    cfg = transformers.ViTMAEConfig(
        hidden_size=dim,
        num_hidden_layers=depth,
        num_attention_heads=heads,
        intermediate_size=4 * dim,
        image_size=img,
        patch_size=patch,
        decoder_hidden_size=dec_dim,
        decoder_num_hidden_layers=dec_depth,
        decoder_num_attention_heads=dec_heads,
        decoder_intermediate_size=4 * dec_dim,
        layer_norm_eps=1e-6,
        norm_pix_loss=norm_pix_loss,
        mask_ratio=0.75,
    )
    ref = transformers.ViTMAEForPreTraining(cfg).eval()
    # transformers 5 leaves the fixed sin-cos tables at zero after post_init: fill them with its own
    # initialiser so that the comparison covers them
    ref.vit.embeddings.patch_embeddings.projection._is_hf_initialized = False
    ref.vit.embeddings.initialize_weights()
    ref.decoder.initialize_weights(ref.vit.embeddings.patch_embeddings.num_patches)
    ours = MaskedAutoencoderViT(
        img_size=img,
        patch_size=patch,
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
        decoder_embed_dim=dec_dim,
        decoder_depth=dec_depth,
        decoder_num_heads=dec_heads,
        norm_pix_loss=norm_pix_loss,
    ).eval()
    return ours, ref


def _compare(ours, ref, img, label):
    load_pretrained(ours, ref.state_dict())
    n = ours.patch_embed.num_patches
    x, noise = torch.randn(2, 3, img, img), torch.rand(2, n)
    with torch.no_grad():
        out = ref(pixel_values=x, noise=noise)
        loss, pred, mask = ours(x, mask_ratio=0.75, noise=noise)
        _, _, ids_restore = ours.forward_encoder(x, 0.75, noise)
    errs = dict(logits=rel_err(pred, out.logits), loss=rel_err(loss, out.loss), mask=rel_err(mask, out.mask))
    print(f"{label}: " + ", ".join(f"{k} {v:.2e}" for k, v in errs.items()))
    assert torch.equal(ids_restore, out.ids_restore)
    assert max(errs.values()) <= TOL


@pytest.mark.parametrize("norm_pix_loss", [False, True])
def test_parity_with_transformers(norm_pix_loss):
    ours, ref = _pair(norm_pix_loss)
    _compare(ours, ref, 32, f"MAE small, norm_pix_loss={norm_pix_loss}")


def test_parity_at_the_default_decoder_shape():
    ours, ref = _pair(True, decoder=(512, 8, 16), img=64, patch=16, dim=192, depth=2, heads=3)
    _compare(ours, ref, 64, "MAE, decoder 512/8/16")


def test_fixed_sincos_tables_equal_transformers():
    ours, ref = _pair(False)
    assert "pos_embed" not in dict(ours.named_parameters())
    assert ours.pos_embed.abs().sum() > 0
    assert rel_err(ours.pos_embed, ref.vit.embeddings.position_embeddings) == 0
    assert rel_err(ours.decoder_pos_embed, ref.decoder.decoder_pos_embed) == 0


def test_random_masking_keeps_a_per_sample_subset():
    x = torch.arange(2 * 16, dtype=torch.float32).reshape(2, 16, 1).expand(-1, -1, 3)
    kept, mask, ids_restore = random_masking(x, 0.75)
    assert kept.shape == (2, 4, 3) and mask.sum(1).tolist() == [12, 12]
    assert not torch.equal(mask[0], mask[1])  # per sample
    # kept tokens are exactly those with mask 0; ids_restore undoes the shuffle
    for b in range(2):
        assert sorted(kept[b, :, 0].tolist()) == x[b, mask[b] == 0, 0].tolist()
    noise = torch.rand(2, 16)
    _, mask, ids_restore = random_masking(x, 0.5, noise)
    assert torch.equal(mask, random_masking(x, 0.5, noise)[1])
    assert torch.equal(torch.argsort(ids_restore), torch.argsort(noise))  # ids_restore inverts the shuffle
    assert torch.equal(mask, (noise >= noise.sort(1).values[:, 8:9]).float())  # the highest noise is removed


def test_encoder_sees_only_visible_patches():
    m = create_model("mae_vit_nano_patch4_32")
    latent, mask, _ = m.forward_encoder(torch.randn(2, 3, 32, 32), 0.75)
    assert latent.shape == (2, 1 + 16, m.embed_dim) and mask.shape == (2, 64)


def test_patchify_roundtrip_and_reconstruction_views():
    m = create_model("mae_vit_nano_patch4_32", norm_pix_loss=True).eval()
    x = torch.randn(2, 3, 32, 32)
    p = m.patchify(x)
    assert p.shape == (2, 64, 48) and torch.equal(m.unpatchify(p), x)
    assert torch.equal(p[0, 1], x[0, :, 0:4, 4:8].permute(1, 2, 0).reshape(-1))  # patch (0, 1), (row, col, chan)
    r = m.reconstruct(x, mask_ratio=0.75, noise=torch.rand(2, 64))
    for key in ("pred", "mask", "masked", "pasted"):
        assert r[key].shape == x.shape
    assert r["norm_pix"] is True
    # a norm_pix prediction stays normalised: un-normalising it would need the hidden patches' statistics
    _, raw, _ = m(x, mask_ratio=0.75, noise=torch.rand(2, 64, generator=torch.Generator().manual_seed(0)))
    r = m.reconstruct(x, mask_ratio=0.75, noise=torch.rand(2, 64, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(r["pred"], m.unpatchify(raw))
    visible = r["mask"] == 0
    assert torch.equal(r["pasted"][visible], x[visible]) and torch.equal(r["pasted"][~visible], r["pred"][~visible])
    assert (r["masked"][~visible] == 0).all() and r["mask"].mean().item() == pytest.approx(0.75)
    # mask is constant inside each patch
    assert torch.equal(m.patchify(r["mask"]).amin(-1), m.patchify(r["mask"]).amax(-1))


def test_training_step_lowers_the_loss():
    torch.manual_seed(0)
    m = create_model("mae_vit_nano_patch4_32")
    losses, _ = pretraining_losses(m, torch.randn(2, 3, 32, 32), torch.rand(2, 64), lr=1e-3)
    assert losses[-1] < losses[0]
    assert "pos_embed" not in dict(m.named_parameters()) and "decoder_pos_embed" in m.state_dict()


def test_bad_mask_ratio_and_noise_are_explained():
    m = create_model("mae_vit_nano_patch4_32")
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(ValueError, match="mask_ratio"):
        m(x, mask_ratio=1.0)
    with pytest.raises(ValueError, match="noise must have shape"):
        m(x, noise=torch.rand(1, 10))


@pytest.mark.parametrize("pool", ["token", "avg"])
def test_mae_encoder_becomes_a_classifier(pool):
    mae = create_model("mae_vit_micro_patch4_32").eval()
    sd = pretrained_to_vit(mae.state_dict(), global_pool=pool)
    assert not any(k.startswith(("decoder", "mask_token")) for k in sd)
    vit = create_model("vit_micro_patch4_32", global_pool=pool).eval()
    missing, unexpected = vit.load_state_dict(sd, strict=False)
    assert set(missing) == {"head.weight", "head.bias"} and not unexpected
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert vit(x).shape == (2, 10)
        if pool == "token":  # the same encoder: identical features on the unmasked image
            assert rel_err(vit.forward_features(x), mae.forward_features(x)) == 0
    # the same through load_pretrained, straight from the MAE state dict
    fresh = create_model("vit_micro_patch4_32", global_pool=pool)
    with pytest.warns(UserWarning, match="left as initialised"):
        report = load_pretrained(fresh, mae.state_dict())
    assert set(report.missing) <= {"head.weight", "head.bias", "fc_norm.weight", "fc_norm.bias"}
    assert torch.equal(fresh.blocks[3].mlp.fc2.weight, mae.blocks[3].mlp.fc2.weight)


def test_named_mae_models():
    m = create_model("mae_vit_base_patch16")
    assert isinstance(m, VisionTransformer) and len(m.decoder_blocks) == 8
    assert m.decoder_embed.out_features == 512 and m.decoder_blocks[0].attn.num_heads == 16
    assert m.decoder_pred.out_features == 16 * 16 * 3 and m.num_prefix_tokens == 1
