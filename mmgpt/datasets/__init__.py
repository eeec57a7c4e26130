"""Datasets (one module per public annotation format), transforms, joint sampling."""
# Each module registers its classes on import. Add a line per new module (keep sorted).
from . import benchmarks  # noqa: F401  (the evaluation datasets register on import)
from .alpaca import AlpacaGPT4Dataset
from .aokvqa import AOKVQADataset
from .baize import BaizeDataset
from .base import AnnotationError, ConversationDataset
from .cc_sbu_align import CcSbuAlignDataset
from .coco_caption import COCOCaptionDataset
from .collate import mmgpt_collate
from .dolly import DollyDataset
from .joint import JointDataset
from .llava import LlavaDataset, LlavaDialDataset
from .model_inputs import MODEL_ARGUMENTS, bind_model_config, register_model_arguments
from .nlvr import NLVRv1Dataset, NLVRv2Dataset
from .ocr_vqa import OCRVQADataset
from .prompts import CAPTION_REQUESTS
from .samplers import JointSampler
from .snli_ve import SNLIVEDataset
from .text_ocr import TextOCRDataset
from .transforms import LoadConversationImage, PackInputs, TokenizeConversation
from .vqa import CLEVRDataset, GQADataset, VQADataset

__all__ = []
__all__ += ['mmgpt_collate', 'JointDataset', 'JointSampler', 'LoadConversationImage',
            'PackInputs', 'TokenizeConversation', 'MODEL_ARGUMENTS', 'bind_model_config',
            'register_model_arguments']
__all__ += ['AnnotationError', 'ConversationDataset', 'CAPTION_REQUESTS', 'LlavaDataset',
            'LlavaDialDataset', 'CcSbuAlignDataset', 'AOKVQADataset', 'COCOCaptionDataset',
            'OCRVQADataset', 'VQADataset', 'GQADataset', 'CLEVRDataset', 'NLVRv1Dataset',
            'NLVRv2Dataset', 'SNLIVEDataset', 'TextOCRDataset', 'DollyDataset',
            'AlpacaGPT4Dataset', 'BaizeDataset']
