"""MultiModalGPT: a frozen OpenFlamingo with LoRA, as an MMEngine ``BaseModel``.

Data flow (shapes for one batch of B samples, L tokens)::

    images (B, T_img, 1, 3, H, W) --CLIP ViT--> patch tokens (B*T_img, P, D_vis)
        --perceiver--> latents (B, T_img, 64, D_vis)   conditions every Flamingo layer
    input_ids (B, L) --LM with gated cross-attention every n layers (+ LoRA)--> logits
    logits, labels (-100 except responses + their EOS) --> loss_vl / loss_lang

Language-only samples run the same LM with the gated cross-attention switched off, so
they are exactly the plain language model (with its LoRA).
"""
from __future__ import annotations

from collections import OrderedDict
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from open_flamingo.src.flamingo import Flamingo
from open_flamingo.src.helpers import PerceiverResampler
from torch.nn.modules.module import _IncompatibleKeys

from mmgpt.registry import MODELS
from mmgpt.templates import DEFAULT_TEMPLATE, get_template
from mmgpt.tokenizer import EOC_TOKEN, MEDIA_TOKEN, build_tokenizer
from mmgpt.utils.precision import cast_frozen_to, resolve_dtype

from .flamingo_lm import add_flamingo_to_lm, language_only, reusing_media
from .language_model import build_language_model
from .lora import PAPER_LORA_TARGETS, add_lora, set_trainable
from .prediction import predict_samples
from .vision_encoder import build_vision_encoder, vision_width
from .weights import canonical_names, check_keys, load_weights_file

__all__ = ['MultiModalGPT', 'OPENFLAMINGO_ALLOWED_MISSING']

#: Keys an OpenFlamingo ``checkpoint.pt`` may lack: the frozen CLIP tower and the frozen
#: LM (they come from their own weights); the perceiver and the gated cross-attention
#: must be present. Regular expressions on the Flamingo module's state-dict names.
OPENFLAMINGO_ALLOWED_MISSING = (
    r'vision_encoder\.',
    r'lang_encoder\.(?!.*gated_cross_attn_layer\.)',
)

#: The paper's LoRA: r 16, alpha 16, dropout 0, on self-attn, cross-attn and its FF.
PAPER_LORA = dict(r=16, alpha=16, dropout=0.0, target_modules=PAPER_LORA_TARGETS)


@MODELS.register_module()
class MultiModalGPT(BaseModel):
    """OpenFlamingo (CLIP + perceiver + gated cross-attention LM), frozen, with LoRA.

    Args:
        vision_encoder (dict): open_clip tower config, see
            :mod:`mmgpt.models.vision_encoder`.
        lang_model (dict): ``dict(path=<local dir>)`` or ``dict(config=dict(model_type=
            'llama', ...))``; optional ``decoder_layers_attr`` (inferred for LLaMA, OPT,
            GPT-NeoX, GPT-J, GPT-2) and ``torch_dtype``.
        tokenizer (dict): ``dict(type='pretrained', path=...)`` or
            ``dict(type='tiny_bpe', ...)``.
        template (str): The instruction template the model is trained and chatted in
            (a name in :data:`mmgpt.templates.TEMPLATES`). Declared here only: the data
            pipeline (:func:`mmgpt.datasets.bind_model_config`), the chat engine, the
            chat hook and evaluation read it from the model. Defaults to ``'mmgpt'``.
        cross_attn_every_n_layers (int): A gated cross-attention block before every
            n-th decoder layer. Defaults to 4 (OpenFlamingo-9B).
        cross_attn (dict, optional): ``GatedCrossAttentionBlock`` sizes (``heads``,
            ``dim_head``, ``ff_mult``). Defaults to None (open_flamingo's 8 x 64, 4).
        perceiver (dict, optional): ``PerceiverResampler`` sizes (``depth``, ``heads``,
            ``dim_head``, ``num_latents``, ``ff_mult``). Defaults to None (6, 8, 64, 64, 4).
        media_attention (str): Which image a token attends to: ``'preceding'`` (this
            project: text after ``<image>`` attends to it) or ``'following'`` (the
            open_flamingo v1 rule the MultiModal-GPT release ran with, to reproduce its
            answers; see :mod:`mmgpt.models.flamingo_lm`). Defaults to ``'preceding'``.
        cross_attn_gate_init (float): Initial value of every ``attn_gate`` / ``ff_gate``.
            Defaults to 0.0 (OpenFlamingo: tanh(0) = 0 keeps a pretrained LM unchanged at
            the start). Pretraining a random LM from scratch, as the demo's stage 1 does,
            learns much faster with open gates (e.g. 1.0). A ``pretrained`` checkpoint
            overwrites them.
        pretrained (str, optional): An OpenFlamingo ``checkpoint.pt`` (v1 or v2 layout) or
            an mmgpt checkpoint of a whole Flamingo, loaded strictly except for
            ``pretrained_allowed_missing``. Defaults to None.
        pretrained_allowed_missing (tuple): Regexes of Flamingo keys the pretrained file
            may lack. Defaults to :data:`OPENFLAMINGO_ALLOWED_MISSING`.
        lora (dict, optional): ``r``, ``alpha``, ``dropout``, ``target_modules``; None
            for no LoRA. Defaults to the paper's.
        freeze (bool): Freeze everything except LoRA and ``unfrozen``. Defaults to True.
        unfrozen (tuple): Regexes (``re.search``) of parameter names that train too.
        gradient_checkpointing (bool): Activation checkpointing of every decoder layer
            together with its gated cross-attention (recomputed in the backward pass;
            works under DDP, DeepSpeed and FSDP). Defaults to False.
        frozen_dtype (str, optional): Store the frozen weights in this half precision
            (``'bfloat16'`` / ``'float16'``), trainable ones stay fp32; set by
            ``tools/train.py --amp``, and the chat hook generates under autocast to it.
            Defaults to None (everything fp32).
        generation_cfg (dict, optional): Default ``generate`` arguments.
        data_preprocessor (dict, optional): MMEngine data preprocessor config.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self, vision_encoder: dict, lang_model: dict, tokenizer: dict,
                 template: str = DEFAULT_TEMPLATE, cross_attn_every_n_layers: int = 4,
                 cross_attn: dict | None = None, perceiver: dict | None = None,
                 media_attention: str = 'preceding', cross_attn_gate_init: float = 0.0,
                 pretrained: str | None = None,
                 pretrained_allowed_missing: tuple = OPENFLAMINGO_ALLOWED_MISSING,
                 lora: dict | None = PAPER_LORA, freeze: bool = True, unfrozen: tuple = (),
                 gradient_checkpointing: bool = False, frozen_dtype: str | None = None,
                 generation_cfg: dict | None = None,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        logger = MMLogger.get_current_instance()
        #: The template name (validated), and the vision tower config that fixes the
        #: image preprocessing: what chat and evaluation must match.
        self.template = get_template(template).name
        self.vision_encoder_cfg = dict(vision_encoder)
        self.tokenizer = build_tokenizer(tokenizer)
        self.media_token_id = self.tokenizer.convert_tokens_to_ids(MEDIA_TOKEN)
        lm = build_language_model(lang_model, vocab_size=len(self.tokenizer))
        add_flamingo_to_lm(lm, lang_model.get('decoder_layers_attr'), cross_attn)
        vis_dim = vision_width(vision_encoder)
        self.flamingo = Flamingo(
            SimpleNamespace(visual=build_vision_encoder(vision_encoder)), lm,
            eoc_token_id=self.tokenizer.convert_tokens_to_ids(EOC_TOKEN),
            media_token_id=self.media_token_id, vis_dim=vis_dim,
            cross_attn_every_n_layers=cross_attn_every_n_layers)
        lm.set_media_attention(media_attention)
        if perceiver:
            self.flamingo.perceiver = PerceiverResampler(dim=vis_dim, **perceiver)
        if cross_attn_gate_init:
            with torch.no_grad():
                for block in lm.gated_cross_attn_layers:
                    if block is not None:
                        block.attn_gate.fill_(cross_attn_gate_init)
                        block.ff_gate.fill_(cross_attn_gate_init)
        # Each decoder layer with its gated cross-attention, recomputed in the backward
        # pass (transformers' own switch would leave the cross-attention out).
        lm.set_activation_checkpointing(gradient_checkpointing)
        if pretrained:
            self.load_pretrained_flamingo(pretrained, pretrained_allowed_missing)
            logger.info(f'loaded pretrained Flamingo weights from {pretrained}')
        if lora is not None:
            lora = dict(lora)
            adapted = add_lora(lm, **lora)
            logger.info('LoRA r={} on {} Linear layers ({})'.format(
                lora.get('r', 16), sum(map(len, adapted.values())), ', '.join(adapted)))
        set_trainable(self, freeze=freeze, unfrozen=unfrozen, logger=logger)
        self._trainable = tuple(n for n, p in self.named_parameters() if p.requires_grad)
        #: The dtype of the frozen weights (None: fp32), see ``frozen_dtype``.
        self.frozen_dtype = frozen_dtype and str(resolve_dtype(frozen_dtype)).split('.')[-1]
        if self.frozen_dtype:
            cast_frozen_to(self, self.frozen_dtype)
        self.generation_cfg = dict(max_new_tokens=64, do_sample=False)
        self.generation_cfg.update(generation_cfg or {})

    # ------------------------------------------------------------------ building
    @property
    def lang_encoder(self):
        """The Flamingo language model (a Hugging Face causal LM with the mixin)."""
        return self.flamingo.lang_encoder

    def load_pretrained_flamingo(self, path: str, allowed_missing=OPENFLAMINGO_ALLOWED_MISSING):
        """Load an OpenFlamingo checkpoint (before LoRA is added), strictly.

        Accepts the v2 layout (one name per tensor, as open_flamingo 2's
        ``get_checkpoint`` writes) and the v1 9B layout, which also stores the
        gated cross-attention under the alias ``lang_encoder.gated_cross_attn_layers.N``:
        alias keys are mapped to their canonical names (and must agree with them when
        both are present). An mmgpt checkpoint (keys ``flamingo.*``) is accepted too.
        """
        state = load_weights_file(path)
        if state and all(k.startswith('flamingo.') for k in state):
            state = {k[len('flamingo.'):]: v for k, v in state.items()}
        names = canonical_names(self.flamingo)
        mapped, unknown = {}, []
        for key, value in state.items():
            canon = names.get(key)
            if canon is None:
                unknown.append(key)
            elif canon in mapped and not torch.equal(mapped[canon], value):
                raise ValueError(f'{path}: {key} and its alias {canon} hold different values')
            else:
                mapped[canon] = value
        expected = set(names.values())
        check_keys(expected, list(mapped) + unknown, path, allowed_missing)
        self.flamingo.load_state_dict(mapped, strict=False)

    # ------------------------------------------------------------- state dicts
    def trainable_parameter_names(self) -> tuple[str, ...]:
        """Canonical names of the parameters that train (fixed when the model is built)."""
        return self._trainable

    def state_dict(self, *args, destination=None, prefix: str = '', keep_vars: bool = False):
        """Only the trainable weights (LoRA and ``unfrozen``), one name per tensor.

        The frozen base comes from its own files; a 9B checkpoint is megabytes. Use
        ``nn.Module.state_dict(model)`` for the full (aliased) state dict.
        """
        full = super().state_dict(*args, prefix=prefix, keep_vars=keep_vars)
        out = OrderedDict() if destination is None else destination
        for name in self._trainable:
            out[prefix + name] = full[prefix + name]
        return out

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load trainable weights; with ``strict`` every trainable key must be present
        and no other key may be (the error names them)."""
        if strict:
            check_keys(self._trainable, state_dict.keys(), 'state dict')
        result = super().load_state_dict(state_dict, strict=False, assign=assign)
        trainable = set(self._trainable)
        return _IncompatibleKeys([k for k in result.missing_keys if k in trainable],
                                 list(result.unexpected_keys))

    # ----------------------------------------------------------------- compute
    @staticmethod
    def _as_media(images: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) / (B,T,3,H,W) / (B,T,F,3,H,W) -> (B,T,F,3,H,W)."""
        while images.dim() < 6:
            images = images.unsqueeze(1)
        return images

    def _condition_on_images(self, images: torch.Tensor):
        """Encode images and give the latents to every Flamingo layer."""
        images = self._as_media(images)
        b, t, f = images.shape[:3]
        visual = self.flamingo.vision_encoder
        # The CLIP tower is frozen in MultiModal-GPT (open_flamingo always runs it under
        # no_grad); the demo's stage-1 pretraining trains it, so follow requires_grad.
        trains = torch.is_grad_enabled() and any(p.requires_grad for p in visual.parameters())
        # pixels in the tower's dtype (DeepSpeed bf16 holds every weight in bf16)
        pixels = images.flatten(0, 2).to(next(visual.parameters()).dtype)
        with torch.set_grad_enabled(trains):
            tokens = visual(pixels)[1]  # (b*t*f, patches, d)
        latents = self.flamingo.perceiver(tokens.reshape(b, t, f, *tokens.shape[1:]))
        for layer in self.lang_encoder._get_decoder_layers():
            layer.condition_vis_x(latents)

    def logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
               images: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token logits ``(B, L, V)``; ``images=None`` runs the plain LM."""
        lm = self.lang_encoder
        if images is None:
            with language_only(lm):
                return lm(input_ids=input_ids, attention_mask=attention_mask).logits
        self._condition_on_images(images)
        try:
            return lm(input_ids=input_ids, attention_mask=attention_mask).logits
        finally:
            lm.clear_conditioned_layers()

    def lm_loss(self, input_ids, labels, attention_mask=None, images=None) -> torch.Tensor:
        """Mean next-token cross-entropy over the supervised (label != -100) tokens."""
        logits = self.logits(input_ids, attention_mask, images)[:, :-1].float()
        targets = labels[:, 1:]
        if not (targets != -100).any():
            raise ValueError('a batch without supervised tokens reached the loss; the data '
                             'pipeline should have dropped these samples')
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                               ignore_index=-100)

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                 images: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        """Generate continuations; returns only the new token ids ``(B * n, new)``.

        With images, generation uses the KV cache and keeps attending to the last image
        of the prompt at every step (open_flamingo's cached-media path).

        Args:
            input_ids (torch.Tensor): Prompt ids ``(B, L)``, left-padded for B > 1.
            attention_mask (torch.Tensor, optional): ``(B, L)``.
            images (torch.Tensor, optional): ``(B, T_img, 1, 3, H, W)`` or fewer dims.
            **kwargs: ``transformers`` generation arguments, over ``generation_cfg``.
        """
        lm = self.lang_encoder
        cfg = dict(self.generation_cfg, eos_token_id=self.tokenizer.eos_token_id,
                   pad_token_id=self.tokenizer.pad_token_id)
        cfg.update(kwargs)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if images is None:
            with language_only(lm):
                out = lm.generate(input_ids=input_ids, attention_mask=attention_mask, **cfg)
            return out[:, input_ids.shape[1]:]
        images = self._as_media(images)
        if cfg.get('num_beams', 1) > 1:
            images = images.repeat_interleave(cfg['num_beams'], dim=0)
        with reusing_media(lm):
            try:
                self._condition_on_images(images)
                out = lm.generate(input_ids=input_ids, attention_mask=attention_mask, **cfg)
            finally:
                lm.clear_conditioned_layers()
        return out[:, input_ids.shape[1]:]

    def forward(self, vl: dict | None = None, lang: dict | None = None, mode: str = 'tensor',
                data_samples=None):
        """MMEngine entry point.

        Args:
            vl (dict, optional): Vision-language batch: ``input_ids``, ``attention_mask``,
                ``labels`` (for 'loss'), ``images`` ``(B, 1, 1, 3, H, W)``.
            lang (dict, optional): Language-only batch (no ``images``).
            mode (str): 'loss' returns ``loss_vl`` / ``loss_lang``; 'tensor' returns the
                logits by modality; 'predict' returns generated texts by modality, or,
                given ``data_samples``, answered data samples (:meth:`predict`).
            data_samples (list, optional): Evaluation samples (``PackEvalInputs``) for
                'predict'.
        """
        if mode == 'predict' and data_samples is not None:
            return self.predict(data_samples)
        batches = {k: b for k, b in (('vl', vl), ('lang', lang)) if b is not None}
        if not batches:
            raise ValueError('MultiModalGPT.forward got neither a `vl` nor a `lang` batch')
        if mode == 'loss':
            return {f'loss_{k}': self.lm_loss(b['input_ids'], b['labels'],
                                              b.get('attention_mask'), b.get('images'))
                    for k, b in batches.items()}
        if mode == 'tensor':
            return {k: self.logits(b['input_ids'], b.get('attention_mask'), b.get('images'))
                    for k, b in batches.items()}
        if mode == 'predict':
            return {k: self.tokenizer.batch_decode(
                self.generate(b['input_ids'], b.get('attention_mask'), b.get('images')),
                skip_special_tokens=True) for k, b in batches.items()}
        raise ValueError(f"mode must be 'loss', 'tensor' or 'predict', got {mode!r}")

    def predict(self, data_samples: list) -> list:
        """Answer evaluation samples: the template's chat prompt, ``generate`` with
        ``generation_cfg`` (set per benchmark in the config), the answer cut at the
        template's stop words. See :mod:`mmgpt.models.prediction`.

        Args:
            data_samples (list[BaseDataElement]): From ``PackEvalInputs``.

        Returns:
            list[BaseDataElement]: Their metainfo plus ``pred_text`` and ``prompt``.
        """
        return predict_samples(self, data_samples)
