"""The template is declared once, by the model config; training, chat and the chat hook
follow it when a config overrides it."""
from types import SimpleNamespace

import pytest
from mmengine import Config
from mmengine.registry import init_default_scope

from mmgpt.datasets import bind_model_config
from mmgpt.engine import EvaluateChatHook
from mmgpt.inference import ChatEngine, GenerationOptions
from mmgpt.registry import TRANSFORMS
from mmgpt.templates import DEFAULT_TEMPLATE
from mmgpt.testing import TINY_MODEL_CONFIG, build_tiny

OTHER = 'openflamingo_interleaved'  # a template unlike the default in every way
PIPELINE = [dict(type='LoadConversationImage'),
            dict(type='TokenizeConversation', max_length=128), dict(type='PackInputs')]
LANG = dict(image=None, turns=[dict(instruction='Name a colour.', input='', response='Red.')])


def _model_cfg(**overrides):
    cfg = Config.fromfile(TINY_MODEL_CONFIG)
    cfg.model.update(overrides)
    return cfg.model


def test_default_is_the_mmgpt_template_everywhere():
    model = build_tiny()
    assert model.template == DEFAULT_TEMPLATE == 'mmgpt'
    engine = ChatEngine(model)
    assert engine.template == 'mmgpt'
    assert '### Instruction:\nWhat is it?' in engine.prompt_text(engine.new_conversation(),
                                                                 'What is it?')


def test_a_model_configured_with_another_template_chats_and_trains_in_it():
    init_default_scope('mmgpt')
    model = build_tiny(template=OTHER)
    assert model.template == OTHER
    # chat: the engine takes the model's template; the prompt shows the plain form
    engine = ChatEngine(model)
    conv = engine.new_conversation()
    engine.ask(conv, 'What is it?', GenerationOptions(max_new_tokens=2))
    assert engine.template == OTHER
    assert conv.last_prompt == '<BOS>What is it?\n'
    assert '###' not in conv.last_prompt
    # training: the pipeline bound to the same model config renders the same form
    pipeline = bind_model_config(PIPELINE, _model_cfg(template=OTHER))
    tokenize = TRANSFORMS.build(pipeline[1])
    sample = tokenize(dict(LANG, turns=[dict(t) for t in LANG['turns']]))
    assert sample['text'] == '<BOS>Name a colour.\nRed.<|endofchunk|><EOS>'
    assert sample['pad_token_id'] == model.tokenizer.pad_token_id


def test_the_chat_hook_follows_the_model_template(tmp_path):
    model = build_tiny(template=OTHER).train()
    logged = []
    runner = SimpleNamespace(model=model, iter=0, cfg=Config(dict(model=_model_cfg())),
                             logger=SimpleNamespace(info=logged.append))
    hook = EvaluateChatHook([dict(question='Hi?')], max_new_tokens=2)
    hook.before_train(runner)
    assert hook._engine.template == OTHER and len(logged) == 1


def test_a_pipeline_that_contradicts_the_model_is_refused():
    wrong = [dict(type='TokenizeConversation', template='mmgpt')]
    with pytest.raises(ValueError, match='declare it once, as model.template'):
        bind_model_config(wrong, _model_cfg(template=OTHER))
    # an agreeing value is fine, and the model's tokenizer / tower are filled in
    bound = bind_model_config(PIPELINE, _model_cfg())
    assert bound[0]['vision_encoder'] == _model_cfg().vision_encoder.to_dict()
    assert bound[1]['tokenizer'] == dict(type='tiny_bpe', vocab_size=512)
    assert bound[1]['template'] == 'mmgpt'
    with pytest.raises(ValueError, match="TokenizeConversation needs the model's tokenizer"):
        TRANSFORMS.build(dict(type='TokenizeConversation'))
