"""Token-exact encoding: ids equal the tokenizer's encoding of the whole rendered string.

Per language-model family (a LLaMA-style sentencepiece tokenizer and GPT-2 / NeoX / OPT
byte-level BPEs, all built here from a few hundred lines of text) and template, for
multi-turn, an image in a later turn, empty input and a user-typed ``<image>``; and the
2023 encoding that OpenFlamingo-9B and the MultiModal-GPT release were trained with.
"""
import json
from pathlib import Path

import pytest

from mmgpt.templates import (
    BOS,
    EOC,
    EOS,
    IGNORE_INDEX,
    MEDIA,
    chat_prompt,
    encode_segments,
    render,
)
from mmgpt.testing import llama_style_tokenizer_dir, template_corpus_lines
from mmgpt.tokenizer import EOC_TOKEN, MEDIA_TOKEN, add_flamingo_tokens, pretrained_tokenizer


def turn(instruction, response, input='', image=None):  # noqa: A002
    return dict(instruction=instruction, input=input, response=response, image=image)


CONVS = {
    'one_turn': dict(image='a.png', turns=[turn('What is this?', 'A red circle.')]),
    'language_only': dict(image=None, turns=[turn('Describe a cat.', 'Small and left.')]),
    'with_input': dict(image=None, turns=[turn('Sum them.', '5', input='2 and 3')]),
    'multi_turn': dict(image='a.png', turns=[
        turn('What colour is it?', 'Red.'), turn('Which shape\nis it?', 'A circle.\n\nSmall.'),
        turn('Where?', 'Top left.')]),
    'image_in_later_turn': dict(image='a.png', turns=[
        turn('First?', 'One.'), turn('Second?', 'Two blue squares.', image='b.png')]),
    'empty_input_and_response': dict(image='a.png', turns=[turn('', '')]),
    'user_typed_markers': dict(image='a.png', turns=[
        turn('Is <image> here </s> or <|endofchunk|>?', 'No <image>, no </s>.'),
        turn('Say <s>', '<image>')]),
}
TEMPLATE_NAMES = ['mmgpt', 'openflamingo', 'openflamingo_interleaved']


# ------------------------------------------------------------------ tokenizers
def train_bytelevel(directory, lines, family):
    """GPT-2 / NeoX / OPT style byte-level BPE saved as vocab.json + merges.txt."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator(lines, trainers.BpeTrainer(
        vocab_size=600, special_tokens=['<|endoftext|>', '<s>', '</s>', '<pad>'],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    bpe.model.save(str(directory))
    special = dict(
        gpt2=dict(tokenizer_class='GPT2Tokenizer', bos_token='<|endoftext|>',
                  eos_token='<|endoftext|>'),
        gpt_neox=dict(tokenizer_class='GPTNeoXTokenizer', bos_token='<|endoftext|>',
                      eos_token='<|endoftext|>'),
        # OPT: GPT-2's BPE with </s> as BOS and EOS (its real tokenizer_config)
        opt=dict(tokenizer_class='GPT2Tokenizer', bos_token='</s>', eos_token='</s>',
                 pad_token='<pad>'))[family]
    (directory / 'tokenizer_config.json').write_text(json.dumps(special))
    return directory


@pytest.fixture(scope='module')
def lines():
    return template_corpus_lines()


@pytest.fixture(scope='module')
def sp_dir(tmp_path_factory, lines):
    return Path(llama_style_tokenizer_dir(tmp_path_factory.mktemp('llama_sp'), lines))


@pytest.fixture(scope='module')
def family_tokenizers(tmp_path_factory, lines, sp_dir):
    from transformers import LlamaTokenizer, LlamaTokenizerFast

    toks = {
        'llama': add_flamingo_tokens(LlamaTokenizer.from_pretrained(str(sp_dir))),
        'llama_legacy': add_flamingo_tokens(
            LlamaTokenizerFast.from_pretrained(str(sp_dir), legacy=True)),
        'llama_historical': pretrained_tokenizer(str(sp_dir), historical=True),
    }
    for family in ('gpt2', 'gpt_neox', 'opt'):
        path = train_bytelevel(tmp_path_factory.mktemp(family), lines, family)
        toks[family] = pretrained_tokenizer(str(path))
    return toks


# ---------------------------------------------------------------- references
def full_string(segments, tokenizer):
    """The rendered text with each marker as its token string (a leading BOS left out)."""
    names = {BOS: tokenizer.bos_token, EOS: tokenizer.eos_token, MEDIA: MEDIA_TOKEN,
             EOC: EOC_TOKEN}
    return ''.join(names[s.special] if s.special else s.text
                   for i, s in enumerate(segments) if not (i == 0 and s.special == BOS))


def tokenizer_encoding(segments, tokenizer):
    """BOS + the tokenizer's own one-call encoding of the full rendered string."""
    ids = tokenizer(full_string(segments, tokenizer), add_special_tokens=False)['input_ids']
    return [tokenizer.bos_token_id] + ids


def old_encode_segments(segments, tokenizer):
    """The previous algorithm, kept here only to measure the before: each segment alone."""
    special = {BOS: tokenizer.bos_token_id, EOS: tokenizer.eos_token_id,
               MEDIA: tokenizer.convert_tokens_to_ids(MEDIA_TOKEN),
               EOC: tokenizer.convert_tokens_to_ids(EOC_TOKEN)}
    ids = []
    for seg in segments:
        ids += ([special[seg.special]] if seg.special else tokenizer.encode(
            seg.text, add_special_tokens=False, split_special_tokens=True))
    return ids


def sentencepiece_2023(segments, model_file):
    """The 2023 slow ``LlamaTokenizer`` (transformers 4.28-4.30) on the full string.

    ``tokenize`` split the text at the special-token strings; ``<image>`` and
    ``<|endofchunk|>`` (added as plain strings) stripped the whitespace on both sides;
    each remaining piece went through ``sp_model.encode`` (with its ``▁`` dummy prefix).
    Markers are placed from the segments, so user-typed marker strings stay text.
    """
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model_file))
    pieces, strip = [[]], {MEDIA, EOC}
    for seg in segments:
        if seg.special is None:
            pieces[-1].append(seg.text)
        else:
            pieces.append(seg.special)
            pieces.append([])
    ids = []
    for i, piece in enumerate(pieces):
        if not isinstance(piece, list):
            ids.append({BOS: 1, EOS: 2, MEDIA: 'media', EOC: 'eoc'}[piece])
            continue
        text = ''.join(piece)
        if i > 0 and pieces[i - 1] in strip:
            text = text.lstrip()
        if i + 1 < len(pieces) and pieces[i + 1] in strip:
            text = text.rstrip()
        if text:
            ids += sp.encode(text)
    return ids


def supervised_text(ids, labels, tokenizer):
    return tokenizer.decode([i for i, label in zip(ids, labels) if label != IGNORE_INDEX])


# --------------------------------------------------------------------- tests
FAMILIES = ['llama', 'llama_legacy', 'gpt2', 'gpt_neox', 'opt']


@pytest.mark.parametrize('family', FAMILIES)
@pytest.mark.parametrize('template', TEMPLATE_NAMES)
@pytest.mark.parametrize('name', sorted(CONVS))
def test_ids_are_the_tokenizers_encoding_of_the_full_string(family_tokenizers, family,
                                                            template, name):
    tok = family_tokenizers[family]
    conv = CONVS[name]
    segs = render(conv, template)
    ids, labels = encode_segments(segs, tok)
    if name != 'user_typed_markers':  # the one-call encoding would parse those as markers
        assert ids == tokenizer_encoding(segs, tok)
    else:  # they stay text: the marker ids appear only where the template put markers
        media = tok.convert_tokens_to_ids(MEDIA_TOKEN)
        assert ids.count(media) == [s.special for s in segs].count(MEDIA)
        assert ids.count(tok.eos_token_id) == [s.special for s in segs].count(EOS) + (
            tok.eos_token_id == tok.bos_token_id)
    # supervised: exactly every response and the EOS (and <|endofchunk|>) after it
    sup = [s for s in segs if s.supervised]
    expected = ''.join(s.text if s.special is None else {
        EOS: tok.eos_token, EOC: EOC_TOKEN}[s.special] for s in sup)
    decoded = supervised_text(ids, labels, tok)
    if family == 'llama_legacy':  # text after a special token starts with '▁' (a space)
        decoded = decoded.replace('|> ', '|>').replace('</s> ', '</s>')
    assert decoded == expected
    for i, label in zip(ids, labels):
        assert label in (IGNORE_INDEX, i)
    assert labels[0] == IGNORE_INDEX and ids[0] == tok.bos_token_id
    # the chat prompt is token for token the training ids minus the last response
    open_conv = dict(conv, turns=conv['turns'][:-1] + [dict(conv['turns'][-1],
                                                             response=None)])
    prompt_ids, prompt_labels = encode_segments(chat_prompt(open_conv, template), tok)
    assert ids[:len(prompt_ids)] == prompt_ids
    assert labels[:len(prompt_ids)] == prompt_labels


@pytest.mark.parametrize('name', ['one_turn', 'multi_turn', 'image_in_later_turn'])
def test_sentencepiece_old_per_segment_encoding_had_extra_ids(family_tokenizers, name):
    """Before: each segment encoded alone got its own ``▁``; after: none extra."""
    tok = family_tokenizers['llama']
    prompt = chat_prompt(dict(CONVS[name], turns=CONVS[name]['turns'][:-1] + [
        dict(CONVS[name]['turns'][-1], response=None)]))
    reference = tokenizer_encoding(prompt, tok)
    old = old_encode_segments(prompt, tok)
    new, _ = encode_segments(prompt, tok)
    extra = len(old) - len(reference)
    assert 1 <= extra <= 2 * len(CONVS[name]['turns']), (extra, name)
    assert new == reference
    # the stray piece is the ▁ that followed <image> in the old ids
    media = tok.convert_tokens_to_ids(MEDIA_TOKEN)
    after_media = old[old.index(media) + 1]
    assert tok.convert_ids_to_tokens(after_media) == '▁'
    assert tok.convert_ids_to_tokens(new[new.index(media) + 1]) != '▁'


def test_one_turn_prompt_counts(family_tokenizers, capsys):
    tok = family_tokenizers['llama']
    conv = CONVS['one_turn']
    segs = render(conv)
    old, new = old_encode_segments(segs, tok), encode_segments(segs, tok)[0]
    assert len(old) == len(new) + 1  # the 127 vs 126, in small
    print(f'one-turn training sequence: old {len(old)} ids, new {len(new)}')


@pytest.mark.parametrize('template', TEMPLATE_NAMES)
@pytest.mark.parametrize('name', sorted(CONVS))
def test_historical_llama_encoding_is_the_2023_slow_tokenizer(family_tokenizers, sp_dir,
                                                              template, name):
    """``historical=True`` gives the ids of transformers 4.28's slow LlamaTokenizer."""
    tok = family_tokenizers['llama_historical']
    segs = render(CONVS[name], template)
    want = sentencepiece_2023(segs, sp_dir / 'tokenizer.model')
    media, eoc = (tok.convert_tokens_to_ids(t) for t in (MEDIA_TOKEN, EOC_TOKEN))
    want = [{'media': media, 'eoc': eoc}.get(i, i) for i in want]
    ids, labels = encode_segments(segs, tok)
    assert ids == want
    sup = ''.join(s.text if s.special is None else {EOS: '</s>', EOC: EOC_TOKEN}[s.special]
                  for s in segs if s.supervised)
    if template == 'mmgpt':  # the responses follow '\n', nothing is stripped there
        assert supervised_text(ids, labels, tok) == sup


def test_todays_llama_default_differs_from_2023_after_a_special_token(family_tokenizers):
    """transformers 5 (legacy=False): no ``▁`` after ``<image>``; 2023: ``▁`` there."""
    segs = render(CONVS['one_turn'])
    today = encode_segments(segs, family_tokenizers['llama'])[0]
    legacy = encode_segments(segs, family_tokenizers['llama_legacy'])[0]
    hist = encode_segments(segs, family_tokenizers['llama_historical'])[0]
    tok = family_tokenizers['llama']
    media = tok.convert_tokens_to_ids(MEDIA_TOKEN)
    after = {name: tok.convert_ids_to_tokens(ids[ids.index(media) - 1:ids.index(media) + 2])
             for name, ids in (('today', today), ('legacy', legacy), ('hist', hist))}
    assert after['today'] == ['<0x0A>', MEDIA_TOKEN, '<0x0A>']
    assert after['legacy'] == ['<0x0A>', MEDIA_TOKEN, '▁']
    # 2023 slow tokenizer: the newlines around <image> were stripped, then ▁###
    assert after['hist'][1:] == [MEDIA_TOKEN, '▁###']
    assert after['hist'][0] == ':'


def test_historical_is_refused_for_byte_level_tokenizers(tmp_path, lines):
    path = train_bytelevel(tmp_path, lines, 'gpt2')
    with pytest.raises(ValueError, match='no Metaspace pre-tokenizer'):
        pretrained_tokenizer(str(path), historical=True)


def test_a_token_straddling_prompt_and_response_is_supervised(family_tokenizers):
    """The documented rule: any character in a response makes the token supervised."""
    from mmgpt.templates import Segment

    tok = family_tokenizers['gpt2']
    segs = [Segment('', False, BOS), Segment('The squ', False), Segment('are is red', True),
            Segment('', True, EOS)]
    ids, labels = encode_segments(segs, tok)
    assert ids == tokenizer_encoding(segs, tok)
    pieces = tok.convert_ids_to_tokens(ids)
    straddle = [p for p in pieces if 'squ' in p and 'are' in p.replace('Ġ', '')]
    assert straddle, pieces  # the BPE merged across the boundary
    k = pieces.index(straddle[0])
    assert labels[k] == ids[k] and labels[k - 1] == IGNORE_INDEX


@pytest.mark.parametrize('family', ['gpt2', 'opt', 'llama_legacy'])
def test_runs_encoding_for_tokenizers_without_a_backend(family_tokenizers, family):
    """The pure-Python path (one call per run between markers, prefix-length labels)
    gives the same ids and labels where pieces between special tokens are independent."""
    from mmgpt.templates import _encode_runs, _special_ids

    tok = family_tokenizers[family]
    for name, conv in CONVS.items():
        if name == 'user_typed_markers':
            continue
        for template in TEMPLATE_NAMES:
            segs = render(conv, template)
            ids, sup, turns = _encode_runs(segs, tok, _special_ids(tok))
            want_ids, want_labels, want_turns = encode_segments(segs, tok, with_turns=True)
            assert ids == want_ids and turns == want_turns
            assert [i if s else IGNORE_INDEX for i, s in zip(ids, sup)] == want_labels


def test_text_holding_the_reserved_marker_string_is_refused(family_tokenizers):
    conv = dict(image=None, turns=[turn('Say \ue000mmgpt-media\ue001', 'No.')])
    with pytest.raises(ValueError, match='reserved marker string'):
        encode_segments(render(conv), family_tokenizers['gpt2'])
