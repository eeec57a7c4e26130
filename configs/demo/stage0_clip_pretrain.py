# Demo stage 0: a tiny CLIP for the demo's OpenFlamingo. The paper's vision encoder is
# OpenAI's CLIP ViT-L/14, pretrained contrastively and kept frozen by OpenFlamingo; no
# weights can be downloaded here, so the demo trains the same open_clip model at tiny
# size on the shapes world's captions (open_clip's CLIP and ClipLoss). Stages 1 and 2
# load it as `model.vision_encoder.pretrained`, the way the 9B config loads CLIP.
# Run by tools/demo.py (mmgpt.demo.clip_pretrain.pretrain_clip), which writes
# work_dirs/demo/stage0/clip_tiny.safetensors; not a Runner config.
_base_ = ['../_base_/models/mmgpt_tiny_shapes.py', '../_base_/datasets/shapes_world.py']

# Image-caption pairs: the cc_sbu_align-style captions (2,000 images, 60 distinct).
captions = [_base_.shapes_captions]
# 800 steps of 48 distinct captions: about 45 s on 2 CPU cores.
clip_pretrain = dict(steps=800, batch_size=48, lr=2e-3, weight_decay=0.1, warmup=0.1, seed=0)
