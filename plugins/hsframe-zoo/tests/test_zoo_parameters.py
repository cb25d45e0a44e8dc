"""Parameter counts against the figures derived by hand from each paper's layer table.

Each derivation is written out: a layer with weights W and biases b contributes |W| + |b|. Unless
stated, the input is the model's declared default on the embedded scene: 200 bands (data.pca_components
null) or the stated PCA count, the stated patch, K = 16 classes.
"""
import pytest

import hsframe_zoo
from hsframe import InputSpec

K = 16

# name: (input (C, D, H, W), options, derived count)
DERIVED = {
    # Hu et al. 2015, Salinas as in the paper's table: n1 = 224 bands, 16 classes.
    # k1 = 224 // 9 = 24, n2 = 224 - 24 + 1 = 201, k2 = ceil(24 / 5) = 5, n3 = 201 // 5 = 40.
    # C1 20 * 24 + 20 = 500; F3 (20 * 40) * 100 + 100 = 80,100; out 100 * 16 + 16 = 1,616  -> 82,216,
    # the count the paper itself states for Salinas.
    "hu_cnn1d@salinas": ("hu_cnn1d", (1, 224, 1, 1), {}, 82_216),
    # Defaults, 200 bands: k1 = 22, n2 = 179, k2 = 5, n3 = 35: 20*22+20 = 460; 700*100+100 = 70,100; 1,616 -> 72,176.
    "hu_cnn1d": ("hu_cnn1d", (1, 200, 1, 1), {}, 72_176),
    # Hamida et al. 2018, 5x5 x 200 bands. Depth: 200 -conv1-> 198 -pool1 (s2, p1)-> 99 -conv2 (p1)-> 99
    # -pool2-> 50 -conv3 (p1)-> 50 -conv4 (k2, s2, p1)-> 26; space 5 -> 3 -> 1.
    # conv1 20*27+20 = 560; pool1 20*20*3+20 = 1,220; conv2 35*20*27+35 = 18,935; pool2 35*35*3+35 = 3,710;
    # conv3 3,710; conv4 35*35*2+35 = 2,485; fc (35*26)*16+16 = 14,576  -> 45,196.
    "hamida_3dcnn": ("hamida_3dcnn", (1, 200, 5, 5), {}, 45_196),
    # Li et al. 2017, 5x5 x 200: C1 2*(7*3*3)+2 = 128; C2 4*2*27+4 = 220; depth 200-6-2 = 192, space 1x1;
    # fc (4*192)*16+16 = 12,304  -> 12,652.
    "li_3dcnn": ("li_3dcnn", (1, 200, 5, 5), {}, 12_652),
    # Chen et al. 2016 at the paper's Indian Pines size: 27x27 x 200 bands, widths 128, 192, 256.
    # conv1 128*(32*4*4)+128 = 65,664; conv2 192*128*(32*5*5)+192 = 19,660,992;
    # conv3 256*192*(32*4*4)+256 = 25,166,080;
    # depth 200 - 3*31 = 107, space 27 -> 24 -> 12 -> 8 -> 4 -> 1; fc (256*107)*16+16 = 438,288.
    # Total 65,664 + 19,660,992 + 25,166,080 + 438,288 = 45,331,024.
    "chen_3dcnn@paper": ("chen_3dcnn", (1, 200, 27, 27), {}, 45_331_024),
    # Plugin defaults (CPU-sized): 100 PCA components, widths 8, 8, 8: conv1 8*512+8 = 4,104;
    # conv2 8*8*800+8 = 51,208; conv3 8*8*512+8 = 32,776; depth 100-93 = 7, fc (8*7)*16+16 = 912  -> 89,000.
    "chen_3dcnn": ("chen_3dcnn", (1, 100, 27, 27), {"widths": [8, 8, 8]}, 89_000),
    # He et al. 2017, 7x7 x 200: conv1 16*(11*3*3)+16 = 1,600; each multi-scale block 16*16*(1+3+5+11) + 4*16
    # = 5,184, two: 10,368; conv4 16*16*(3*2*2)+16 = 3,088; depth (200-11)//3+1 = 64 -> 62 -> pool 3 -> 20,
    # space 7 -> 5 -> 4 -> pool 2 -> 2; fc (16*20*2*2)*16+16 = 20,496  -> 35,552.
    "he_m3dcnn": ("he_m3dcnn", (1, 200, 7, 7), {}, 35_552),
    # Lee & Kwon 2017, 5x5 x 200: bank 5x5xB 128*(25*200)+128 = 640,128; 3x3xB 128*1,800+128 = 230,528;
    # 1x1xB 128*200+128 = 25,728; conv 384->128: 49,280; six 1x1 128->128 (4 residual + 2): 6*16,512 = 99,072;
    # 1x1 128->16: 2,064  -> 1,046,800.
    "lee_contextual": ("lee_contextual", (1, 200, 5, 5), {}, 1_046_800),
    # Luo et al. 2018, 3x3 x 51 PCA: conv3d 90*(24*3*3)+90 = 19,530; d' = (51-24)//9+1 = 4 rows of 90;
    # conv2d 64*9+64 = 640 -> (64, 2, 88); fc1 (64*2*88)*1024+1024 = 11,535,360; fc2 1024*16+16 = 16,400
    # -> 11,571,930.
    "luo_hsicnn": ("luo_hsicnn", (1, 51, 3, 3), {}, 11_571_930),
    # Sharma et al. 2016, 65x65 x 30 PCA: conv1 96*(30*6*6)+96 = 103,776, BN 192; space 65 -> 30 -> 15;
    # conv2 256*96*9+256 = 221,440, BN 512; 15 -> 7 -> 3; conv3 512*256*9+512 = 1,180,160; 3 -> 1;
    # fc1 512*1024+1024 = 525,312; fc2 1024*16+16 = 16,400  -> 2,047,792.
    "sharma_hscnn": ("sharma_hscnn", (1, 30, 65, 65), {}, 2_047_792),
    # Mou et al. 2017, 200 bands, 64 hidden, input size 1: W_x 1*192+192 = 384; W_h 64*192+192 = 12,480;
    # PRetanh a: 1; fc 64*16+16 = 1,040  -> 13,905.
    "mou_rnn": ("mou_rnn", (1, 200, 1, 1), {}, 13_905),
    # SpectralFormer, 7x7 x 200 bands, group 3, dim 64, depth 5, 4 heads of 16, MLP 8: embedding
    # (3*49)*64+64 = 9,472; positions 201*64 = 12,864; class token 64; each layer LN 128 + qkv 64*192
    # + out 64*64+64 + LN 128 + MLP (64*8+8) + (8*64+64) = 17,800, five: 89,000; CAF three 1x2 convs
    # over 201 token channels 201*201*2+201 = 81,003 each: 243,009; head LN 128 + 64*16+16 -> 1,168.
    # Total 355,577.
    "spectralformer": ("spectralformer", (1, 200, 7, 7), {}, 355_577),
    # SSFTT, 13x13 x 30 PCA: conv3d 8*27+8 = 224, BN 16; conv2d (8*28)*9*64+64 = 129,088, BN 128;
    # tokenizer W_a 64*4 = 256, W_v 64*64 = 4,096; positions 5*64 = 320; class token 64; one layer
    # LN 128 + qkv 64*192+192 + out 64*64+64 + LN 128 + MLP 520 + 576 = 17,992; head 64*16+16 = 1,040
    # -> 153,224.
    "ssftt": ("ssftt", (1, 30, 13, 13), {}, 153_224),
}


def test_every_model_has_a_derived_count():
    assert {name for name, *_ in DERIVED.values()} == set(hsframe_zoo.MODELS)


@pytest.mark.parametrize("key", DERIVED)
def test_parameter_count_matches_the_derivation(key):
    name, shape, options, expected = DERIVED[key]
    model = hsframe_zoo.MODELS[name].build(InputSpec(*shape, K), **options)
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize("name", hsframe_zoo.MODELS)
def test_derived_input_is_the_declared_default(name):
    """The counts without '@' are at the model's declared defaults (README's table)."""
    _, (c, d, h, w), options, _ = DERIVED[name]
    defaults = hsframe_zoo.MODELS[name].all_defaults()
    assert (defaults["data.pca_components"] or 200, defaults["data.patch_size"]) == (d, h) == (d, w)
    assert {k.split(".", 1)[1]: v for k, v in defaults.items() if k.startswith("model_options.")} == options
