"""The synthetic "shapes world": tiny images and instruction data for the embedded demo.

Each image is one of two scene kinds, on a white background, drawn without
anti-aliasing (every object pixel has exactly its colour):

- ``shapes``: 1-3 objects of ONE shape (circle, square, triangle) and ONE colour (red,
  green, blue, yellow), each in its own cell of a 2x2 grid, with a random size and
  position inside the cell, so objects never touch;
- ``word``: one three-letter word (CAT, DOG, SUN, BOX, PEN, CUP) in one colour, drawn
  with the 5x7 pixel glyphs below, scaled up, at a random position.

:func:`generate_shapes_world` writes the images and the annotation files in the public
formats the mmgpt dataset classes read (LLaVA-Instruct, cc_sbu_align, Dolly, Alpaca),
plus ``eval_items.json`` for held-out evaluation (scored by
:func:`mmgpt.demo.eval_tasks.score_answer`). Everything is seeded: one seed gives the
same bytes in every file. Vocabulary and question phrasings are shared by train and
test; the held-out part is the images (no test image equals a training image).

Evaluation tasks and chance levels (one over the number of choices; the product over
attributes for ``caption``, which must name all of them):

============  ===========================================  =====================
task          question (held-out image unless language)     chance
============  ===========================================  =====================
count         How many shapes are there? (one/two/three)   1/3
color         What color are the shapes / is the word?     1/4
shape         What shape is in the image?                   1/3
word          What word is written in the image?            1/6
caption       Describe the image in detail.                 1/36 shapes, 1/24 word
dialog        2nd turn, the 1st turn as history             1/4 color, 1/3 count or
                                                            shape, 1/6 word
lang_add      What is 3 plus 4? (sums 2..10)                1/9
lang_reverse  Reverse the word cat. (8 words)               1/8
lang_upper    Write the word cat in capital letters.        1/8 (case-sensitive)
============  ===========================================  =====================
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mmgpt.utils.fileio import atomic_write_bytes

from .eval_tasks import NUMBER_WORDS

__all__ = [
    'COLORS', 'SHAPES', 'COUNTS', 'WORDS', 'LANG_WORDS', 'BACKGROUND', 'GLYPHS',
    'VL_TASKS', 'LANG_TASKS', 'Scene', 'layout', 'sample_scene', 'glyph_mask',
    'render_scene', 'caption', 'detail_answer', 'qa_items', 'dialog_turns', 'lang_sample',
    'task_choices', 'generate_shapes_world', 'SHORT_ANSWER_FILES', 'short_answer_records',
    'write_short_answer_files',
]

# ----------------------------------------------------------------------------- vocabulary
COLORS = {
    'red': (220, 40, 40),
    'green': (40, 160, 60),
    'blue': (40, 80, 220),
    'yellow': (235, 195, 30),
}
SHAPES = ('circle', 'square', 'triangle')
COUNTS = (1, 2, 3)
WORDS = ('CAT', 'DOG', 'SUN', 'BOX', 'PEN', 'CUP')
# Words of the language-only tasks (reverse, upper case); reversals are all distinct.
LANG_WORDS = ('cat', 'dog', 'sun', 'box', 'pen', 'cup', 'hat', 'fox')
ADD_RANGE = (1, 5)  # both addends of the language-only addition task, inclusive
BACKGROUND = (255, 255, 255)

# 5x7 pixel glyphs, one string per row ('#' = ink), for every letter of WORDS.
GLYPHS = {
    'A': ('.###.', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'),
    'B': ('####.', '#...#', '#...#', '####.', '#...#', '#...#', '####.'),
    'C': ('.####', '#....', '#....', '#....', '#....', '#....', '.####'),
    'D': ('####.', '#...#', '#...#', '#...#', '#...#', '#...#', '####.'),
    'E': ('#####', '#....', '#....', '####.', '#....', '#....', '#####'),
    'G': ('.####', '#....', '#....', '#.###', '#...#', '#...#', '.###.'),
    'N': ('#...#', '##..#', '#.#.#', '#..##', '#...#', '#...#', '#...#'),
    'O': ('.###.', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'),
    'P': ('####.', '#...#', '#...#', '####.', '#....', '#....', '#....'),
    'S': ('.####', '#....', '#....', '.###.', '....#', '....#', '####.'),
    'T': ('#####', '..#..', '..#..', '..#..', '..#..', '..#..', '..#..'),
    'U': ('#...#', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'),
    'X': ('#...#', '#...#', '.#.#.', '..#..', '.#.#.', '#...#', '#...#'),
}

VL_TASKS = ('count', 'color', 'shape', 'word', 'caption', 'dialog')
LANG_TASKS = ('lang_add', 'lang_reverse', 'lang_upper')

# ----------------------------------------------------------------------------- phrasings
DETAIL_PROMPTS = ('Describe the image in detail.', 'Can you describe the image?',
                  'What do you see in this image?',
                  'Describe the main elements and details present in the image.')
QUESTIONS = {
    'count': ('How many shapes are there?', 'How many objects are in the image?',
              'Count the shapes in the image.'),
    'color': ('What color are the shapes?', 'What is the color of the shapes?',
              'Which color do the shapes have?'),
    'word_color': ('What color is the word?', 'What color is the text in the image?',
                   'In which color is the word written?'),
    'shape': ('What shape is in the image?', 'What kind of shape do you see?',
              'Which shape is shown in the image?'),
    'word': ('What word is written in the image?', 'What does the text in the image say?',
             'Read the word in the image.'),
}
LANG_PROMPTS = {
    'lang_add': ('What is {a} plus {b}?', 'Add {a} and {b}.',
                 'Compute the sum of {a} and {b}.'),
    'lang_reverse': ('Reverse the word {w}.', 'Write the word {w} backwards.',
                     'Write the letters of {w} in reverse order.'),
    'lang_upper': ('Write the word {w} in capital letters.', 'Convert {w} to uppercase.',
                   'Write {w} in upper case.'),
}
ALPACA_PROMPTS = {
    'lang_add': ('Add the two numbers.', '{a} and {b}'),
    'lang_reverse': ('Reverse the given word.', '{w}'),
    'lang_upper': ('Write the given word in capital letters.', '{w}'),
}
_NAMESPACE = 'mmgpt-shapes-world'


# ----------------------------------------------------------------------------- scenes
@dataclass(frozen=True)
class Scene:
    """What one image shows.

    Args:
        kind (str): ``'shapes'`` or ``'word'``.
        color (str): Colour name, a key of :data:`COLORS`.
        shape (str | None): Shape name for ``shapes`` scenes.
        count (int): Number of objects (0 for ``word`` scenes).
        word (str | None): The upper-case word for ``word`` scenes.
        boxes (tuple): ``(x0, y0, size)`` per object, or one ``(x0, y0, scale)`` for the
            word.
    """

    kind: str
    color: str
    shape: str | None = None
    count: int = 0
    word: str | None = None
    boxes: tuple = ()


def layout(image_size: int) -> dict:
    """Sizes used to place objects and words in a square image.

    Args:
        image_size (int): Side of the image in pixels, at least 32.

    Returns:
        dict: ``cell`` (grid cell side), ``margin``, ``min_size``/``max_size`` (object
        side range) and ``scale`` (glyph pixel size).
    """
    if image_size < 32:
        raise ValueError(f'image_size must be at least 32 pixels, got {image_size}')
    cell = image_size // 2
    margin = max(1, image_size // 24)
    return {'cell': cell, 'margin': margin, 'min_size': max(6, cell // 2),
            'max_size': cell - 2 * margin, 'scale': max(1, (image_size - 8) // 18)}


def _jittered(rng: random.Random, free: int, jitter: int) -> int:
    """An offset in ``[0, free]`` within ``jitter`` pixels of the centre."""
    centre = free // 2
    return rng.randint(max(0, centre - jitter), min(free, centre + jitter))


def _sample_objects(rng: random.Random, count: int, image_size: int, jitter: int) -> tuple:
    """Place ``count`` objects in distinct cells of the 2x2 grid, near the cell centres."""
    geo = layout(image_size)
    boxes = []
    for cell_index in sorted(rng.sample(range(4), count)):
        size = rng.randint(max(geo['min_size'], geo['max_size'] - 2 * jitter), geo['max_size'])
        free = geo['cell'] - 2 * geo['margin'] - size
        x0 = (cell_index % 2) * geo['cell'] + geo['margin'] + _jittered(rng, free, jitter)
        y0 = (cell_index // 2) * geo['cell'] + geo['margin'] + _jittered(rng, free, jitter)
        boxes.append((x0, y0, size))
    return tuple(boxes)


def sample_scene(rng: random.Random, image_size: int, word_fraction: float = 0.5,
                 jitter: int = 2, kind: str | None = None) -> Scene:
    """Draw a random scene.

    Objects sit near the centres of their grid cells and a word near the image centre,
    each moved by up to ``jitter`` pixels (and objects resized by up to twice that), so
    that every image differs while a tiny vision tower trained from scratch for a few
    minutes can still learn to see them.

    Args:
        rng (random.Random): The random stream to draw from.
        image_size (int): Side of the image in pixels.
        word_fraction (float): Probability of a ``word`` scene. Defaults to 0.5.
        jitter (int): Largest shift from the centred position, in pixels. Defaults to 2.
        kind (str, optional): ``'word'`` or ``'shapes'`` to force the kind of scene.
            Defaults to None (drawn with ``word_fraction``).

    Returns:
        Scene: The scene.
    """
    color = rng.choice(sorted(COLORS))
    is_word = rng.random() < word_fraction
    if (kind == 'word') if kind is not None else is_word:
        word = rng.choice(WORDS)
        geo = layout(image_size)
        height, width = glyph_mask(word, geo['scale']).shape
        x0 = geo['margin'] + _jittered(rng, image_size - 2 * geo['margin'] - width, jitter)
        y0 = geo['margin'] + _jittered(rng, image_size - 2 * geo['margin'] - height, jitter)
        return Scene('word', color, word=word, boxes=((x0, y0, geo['scale']),))
    shape, count = rng.choice(SHAPES), rng.choice(COUNTS)
    return Scene('shapes', color, shape=shape, count=count,
                 boxes=_sample_objects(rng, count, image_size, jitter))


def glyph_mask(word: str, scale: int = 1) -> np.ndarray:
    """The ink mask of a word in the 5x7 pixel font, one blank column between letters.

    Args:
        word (str): Upper-case letters that all have a glyph in :data:`GLYPHS`.
        scale (int): Side of one glyph pixel in image pixels. Defaults to 1.

    Returns:
        np.ndarray: Bool array of shape ``(7 * scale, (6 * len(word) - 1) * scale)``.
    """
    missing = sorted(set(word) - set(GLYPHS))
    if missing:
        raise ValueError(f'no glyph for {missing} in word {word!r}; add them to GLYPHS')
    mask = np.zeros((7, 6 * len(word) - 1), dtype=bool)
    for index, letter in enumerate(word):
        rows = np.array([[c == '#' for c in row] for row in GLYPHS[letter]])
        mask[:, 6 * index:6 * index + 5] = rows
    return np.kron(mask, np.ones((scale, scale), dtype=bool)).astype(bool)


def _draw_object(draw: ImageDraw.ImageDraw, shape: str, box: tuple, fill: tuple) -> None:
    """Draw one filled shape with its top-left corner and side given by ``box``."""
    x0, y0, size = box
    x1, y1 = x0 + size - 1, y0 + size - 1
    if shape == 'circle':
        draw.ellipse((x0, y0, x1, y1), fill=fill)
    elif shape == 'square':
        draw.rectangle((x0, y0, x1, y1), fill=fill)
    elif shape == 'triangle':
        draw.polygon([(x0 + (size - 1) / 2, y0), (x0, y1), (x1, y1)], fill=fill)
    else:
        raise ValueError(f'unknown shape {shape!r}; expected one of {SHAPES}')


def render_scene(scene: Scene, image_size: int) -> Image.Image:
    """Draw a scene.

    Args:
        scene (Scene): What to draw.
        image_size (int): Side of the square image in pixels.

    Returns:
        Image.Image: An RGB image; object pixels have exactly the scene's colour.
    """
    image = Image.new('RGB', (image_size, image_size), BACKGROUND)
    fill = COLORS[scene.color]
    if scene.kind == 'shapes':
        draw = ImageDraw.Draw(image)
        for box in scene.boxes:
            _draw_object(draw, scene.shape, box, fill)
        return image
    x0, y0, scale = scene.boxes[0]
    mask = glyph_mask(scene.word, scale)
    pixels = np.array(image)
    region = pixels[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]]
    region[mask] = fill
    return Image.fromarray(pixels)


# ----------------------------------------------------------------------------- text
def _noun(scene: Scene) -> str:
    """Shape noun agreeing with the count ('circle' / 'circles')."""
    return scene.shape if scene.count == 1 else scene.shape + 's'


def _shape_answer(scene: Scene) -> str:
    """'It is a circle.' or 'They are circles.'"""
    if scene.count == 1:
        return f'It is a {scene.shape}.'
    return f'They are {_noun(scene)}.'


def _count_answer(scene: Scene, noun: str = 'shape') -> str:
    """'There is one shape.' / 'There are two shapes.' (``noun=''`` drops the noun)."""
    number = NUMBER_WORDS[scene.count]
    if scene.count == 1:
        return f'There is one {noun}.' if noun else 'There is one.'
    return f'There are {number} {noun}s.' if noun else f'There are {number}.'


def caption(scene: Scene) -> str:
    """Short caption (cc_sbu_align, stage-1 pretraining): 'two red circles.'

    Args:
        scene (Scene): The scene.

    Returns:
        str: The caption.
    """
    if scene.kind == 'word':
        return f'the word {scene.word} in {scene.color}.'
    return f'{NUMBER_WORDS[scene.count]} {scene.color} {_noun(scene)}.'


def detail_answer(scene: Scene) -> str:
    """Full description, the answer to 'Describe the image in detail.'

    Args:
        scene (Scene): The scene.

    Returns:
        str: e.g. 'There are two red circles in the image.'
    """
    if scene.kind == 'word':
        return f'The image shows the word {scene.word} written in {scene.color}.'
    verb = 'is' if scene.count == 1 else 'are'
    return f'There {verb} {NUMBER_WORDS[scene.count]} {scene.color} {_noun(scene)} in the image.'


def _keyword(scene: Scene, attribute: str) -> str:
    """The scoring keyword of one attribute of a scene (lower case)."""
    values = {'count': NUMBER_WORDS[scene.count], 'color': scene.color,
              'shape': scene.shape or '', 'word': (scene.word or '').lower()}
    return values[attribute]


def qa_items(scene: Scene, rng: random.Random) -> list[dict]:
    """Single-turn questions that apply to a scene, one per task.

    Args:
        scene (Scene): The scene.
        rng (random.Random): Picks the phrasing.

    Returns:
        list[dict]: ``task``, ``question``, ``answer``, ``keyword`` per question.
    """
    if scene.kind == 'word':
        plan = [('word', 'word', f'The word is {scene.word}.'),
                ('color', 'word_color', f'The word is written in {scene.color}.')]
    else:
        subject = 'The shape is' if scene.count == 1 else 'The shapes are'
        plan = [('count', 'count', _count_answer(scene)),
                ('color', 'color', f'{subject} {scene.color}.'),
                ('shape', 'shape', _shape_answer(scene))]
    return [{'task': task, 'question': rng.choice(QUESTIONS[family]), 'answer': answer,
             'keyword': _keyword(scene, task)} for task, family, answer in plan]


def _shape_dialog_turn(scene: Scene, attribute: str, first: bool) -> tuple[str, str]:
    """One question/answer about ``attribute`` of a shapes scene, opening or follow-up."""
    pronoun, verb = ('it', 'is') if scene.count == 1 else ('they', 'are')
    if attribute == 'shape':
        question = 'What shape is in the image?' if first else f'What shape {verb} {pronoun}?'
        return question, _shape_answer(scene)
    if attribute == 'count':
        if first:
            return 'How many shapes are there?', _count_answer(scene)
        return 'How many of them are there?', _count_answer(scene, noun='')
    return f'What color {verb} {pronoun}?', f'{pronoun.capitalize()} {verb} {scene.color}.'


def dialog_turns(scene: Scene, rng: random.Random) -> list[dict]:
    """A 2-3 turn dialogue whose follow-ups refer back to the first turn ('it', 'they').

    Args:
        scene (Scene): The scene.
        rng (random.Random): Picks the order of the attributes and the length.

    Returns:
        list[dict]: ``question``, ``answer``, ``attribute``, ``keyword`` per turn.
    """
    if scene.kind == 'word':
        if rng.random() < 0.5:
            plan = [('word', 'What word is written in the image?',
                     f'The word is {scene.word}.'),
                    ('color', 'What color is it written in?',
                     f'It is written in {scene.color}.')]
        else:
            # The same answer as the single-turn question (QUESTIONS['word_color']): one
            # question, one reference sentence.
            plan = [('color', 'What color is the text in the image?',
                     f'The word is written in {scene.color}.'),
                    ('word', 'What does it say?', f'It says {scene.word}.')]
    else:
        first = rng.choice(('shape', 'count'))
        rest = [a for a in ('shape', 'count', 'color') if a != first]
        rng.shuffle(rest)
        attributes = [first] + rest[:rng.choice((1, 2))]
        plan = [(a, *_shape_dialog_turn(scene, a, i == 0)) for i, a in enumerate(attributes)]
    return [{'attribute': a, 'question': q, 'answer': ans, 'keyword': _keyword(scene, a)}
            for a, q, ans in plan]


def lang_sample(task: str, rng: random.Random) -> dict:
    """One language-only instruction sample.

    Args:
        task (str): One of :data:`LANG_TASKS`.
        rng (random.Random): Picks the operands and the phrasing.

    Returns:
        dict: ``instruction`` (self-contained), ``alpaca_instruction`` and
        ``alpaca_input`` (the same request split as in Alpaca), ``response``,
        ``keyword``.
    """
    if task == 'lang_add':
        a, b = rng.randint(*ADD_RANGE), rng.randint(*ADD_RANGE)
        fields, response, keyword = {'a': a, 'b': b}, f'The sum is {a + b}.', NUMBER_WORDS[a + b]
    elif task == 'lang_reverse':
        w = rng.choice(LANG_WORDS)
        fields, response, keyword = {'w': w}, f'The reversed word is {w[::-1]}.', w[::-1]
    elif task == 'lang_upper':
        w = rng.choice(LANG_WORDS)
        fields, response = {'w': w}, f'In capital letters it is {w.upper()}.'
        keyword = w.upper()
    else:
        raise ValueError(f'unknown language task {task!r}; expected one of {LANG_TASKS}')
    alpaca_instruction, alpaca_input = ALPACA_PROMPTS[task]
    return {'instruction': rng.choice(LANG_PROMPTS[task]).format(**fields),
            'alpaca_instruction': alpaca_instruction,
            'alpaca_input': alpaca_input.format(**fields), 'response': response,
            'keyword': keyword}


def task_choices(task: str) -> list[str]:
    """All keywords an answer of a single-attribute task can have.

    Args:
        task (str): ``'count'``, ``'color'``, ``'shape'``, ``'word'`` or a language task.

    Returns:
        list[str]: The closed set of keywords; chance level is one over its length.
    """
    table = {
        'count': [NUMBER_WORDS[c] for c in COUNTS],
        'color': sorted(COLORS),
        'shape': list(SHAPES),
        'word': [w.lower() for w in WORDS],
        'lang_add': [NUMBER_WORDS[s] for s in range(2 * ADD_RANGE[0], 2 * ADD_RANGE[1] + 1)],
        'lang_reverse': [w[::-1] for w in LANG_WORDS],
        'lang_upper': [w.upper() for w in LANG_WORDS],
    }
    if task not in table:
        raise ValueError(f'task {task!r} has no single choice set; expected one of '
                         f'{sorted(table)}')
    return table[task]


# ----------------------------------------------------------------------------- records
def _llava_record(record_id: str, image: str, turns: Iterable[tuple[str, str]]) -> dict:
    """A LLaVA-Instruct record; ``<image>`` opens the first human turn."""
    conversations = []
    for index, (question, answer) in enumerate(turns):
        value = f'<image>\n{question}' if index == 0 else question
        conversations += [{'from': 'human', 'value': value}, {'from': 'gpt', 'value': answer}]
    return {'id': record_id, 'image': image, 'conversations': conversations}


def _eval_item(task: str, image: str | None, turns: list[str], answer: str,
               accept: list[str], groups: list[list[str]], history: list[str] | None = None,
               case_sensitive: bool = False) -> dict:
    """An entry of ``eval_items.json``; chance is the product over choice groups."""
    chance = 1.0
    for group in groups:
        chance /= len(group)
    return {'task': task, 'image': image, 'turns': turns, 'history_answers': history or [],
            'answer': answer, 'accept': accept,
            'choices': [c for group in groups for c in group], 'choice_groups': groups,
            'chance': round(chance, 6), 'case_sensitive': case_sensitive}


def _image_eval_items(scene: Scene, image: str, rng: random.Random) -> list[dict]:
    """All candidate evaluation items of one held-out image."""
    items = [_eval_item(qa['task'], image, [qa['question']], qa['answer'], [qa['keyword']],
                        [task_choices(qa['task'])]) for qa in qa_items(scene, rng)]
    attributes = ['word', 'color'] if scene.kind == 'word' else ['count', 'color', 'shape']
    items.append(_eval_item('caption', image, [rng.choice(DETAIL_PROMPTS)],
                            detail_answer(scene), [_keyword(scene, a) for a in attributes],
                            [task_choices(a) for a in attributes]))
    first, second = dialog_turns(scene, rng)[:2]
    items.append(_eval_item('dialog', image, [first['question'], second['question']],
                            second['answer'], [second['keyword']],
                            [task_choices(second['attribute'])], history=[first['answer']]))
    return items


def _lang_eval_item(task: str, rng: random.Random) -> dict:
    """A language-only evaluation item, phrased as in ``dolly.jsonl``."""
    sample = lang_sample(task, rng)
    return _eval_item(task, None, [sample['instruction']], sample['response'],
                      [sample['keyword']], [task_choices(task)],
                      case_sensitive=task == 'lang_upper')


# ----------------------------------------------------------------------------- writing
def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` crash-safe, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(data, str(path))


def _image_bytes(image: Image.Image, fmt: str) -> bytes:
    """Encode an image as PNG or JPEG (quality 95) without metadata."""
    buffer = io.BytesIO()
    if fmt == 'png':
        image.save(buffer, format='PNG', compress_level=6)
    else:
        image.save(buffer, format='JPEG', quality=95)
    return buffer.getvalue()


def _json_bytes(data) -> bytes:
    """Serialise to JSON the same way every time."""
    return (json.dumps(data, indent=1, ensure_ascii=False) + '\n').encode('utf-8')


def _rng(seed: int, *parts) -> random.Random:
    """An independent random stream named by ``parts`` (string seeds are stable)."""
    return random.Random(':'.join([_NAMESPACE, str(seed), *map(str, parts)]))


def _make_split(split: str, num: int, image_size: int, seed: int, word_fraction: float,
                jitter: int, forbidden: set[str], progress: Callable,
                unique: bool = True) -> list[tuple[Scene, bytes]]:
    """Sample and render ``num`` scenes whose pixels are not in ``forbidden``.

    Args:
        unique (bool): Also keep the split's own images distinct. The training split
            may repeat an image (the scene space of a small jitter is small); the
            held-out split is distinct from training and from itself. Defaults to True.

    Returns:
        list[tuple[Scene, bytes]]: Scenes and their PNG bytes; ``forbidden`` gains their
        pixel hashes.
    """
    result, own = [], set()
    for index in progress(range(num), desc=f'{split} images'):
        kind = None  # the first draw decides the kind; redraws after a clash keep it
        for attempt in range(1000):
            scene = sample_scene(_rng(seed, split, index, attempt), image_size, word_fraction,
                                 jitter, kind)
            kind = scene.kind
            image = render_scene(scene, image_size)
            digest = hashlib.sha1(image.tobytes()).hexdigest()
            if digest not in forbidden:
                break
        else:
            raise RuntimeError(f'could not draw a new {split} image #{index} in 1000 tries; '
                               'use a larger --image-size or fewer images')
        if unique:
            forbidden.add(digest)
        else:
            own.add(digest)
        result.append((scene, image))
    forbidden |= own
    return result


def _remove_stale(folder: Path, suffix: str, keep: int) -> None:
    """Delete images from an earlier, larger run: numbered files with index >= keep."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if re.fullmatch(r'\d+', path.stem) and path.suffix == suffix and int(path.stem) >= keep:
            path.unlink()


def _no_progress(iterable, **_):
    """Stand-in for tqdm when progress bars are off."""
    return iterable


def _train_annotations(scenes: list[Scene], seed: int) -> dict[str, object]:
    """The training annotation files (LLaVA, cc_sbu_align) as Python objects."""
    detail, qa, dialog, captions = [], [], [], []
    for index, scene in enumerate(scenes):
        name, rng = f'{index:05d}.png', _rng(seed, 'train', index, 'text')
        detail.append(_llava_record(f'{index:05d}', name,
                                    [(rng.choice(DETAIL_PROMPTS), detail_answer(scene))]))
        for qa_item in qa_items(scene, rng):
            qa.append(_llava_record(f'{index:05d}_{qa_item["task"]}', name,
                                    [(qa_item['question'], qa_item['answer'])]))
        dialog.append(_llava_record(f'{index:05d}', name, [
            (turn['question'], turn['answer']) for turn in dialog_turns(scene, rng)]))
        captions.append({'image_id': str(index), 'caption': caption(scene)})
    return {'llava_detail.json': detail, 'llava_qa.json': qa, 'llava_dialog.json': dialog,
            'cc_sbu_align/filter_cap.json': {'annotations': captions}}


#: The short-answer block (VQA v2 and GQA formats, one-word answers): not part of the
#: demo's mix; the data experiment of tools/experiments.py adds it (docs/experiments.md).
SHORT_ANSWER_FILES = ('vqa_short.json', 'gqa_short.json')


def short_answer_records(scenes: list[Scene], seed: int) -> dict[str, object]:
    """The short-answer files: the single-turn questions answered with one word.

    The questions are those of ``llava_qa.json`` (same phrasings), the answer is the
    scoring keyword alone ("two", "red", "circle", "cat"), as VQA v2 and GQA answer.
    Images with an even index go to ``vqa_short.json`` (VQA v2 in the LAVIS format, ten
    identical annotator answers, image ``NNNNN.png`` below ``images/train/``), odd ones
    to ``gqa_short.json`` (GQA: an object keyed by question id, image
    ``<imageId>.jpg`` below ``cc_sbu_align/image/``, the reference sentence as
    ``fullAnswer``).

    Args:
        scenes (list[Scene]): The training scenes, in image order.
        seed (int): The world's seed (picks the phrasings).

    Returns:
        dict[str, object]: ``{file name: annotation object}`` for
        :data:`SHORT_ANSWER_FILES`.
    """
    vqa, gqa = [], {}
    for index, scene in enumerate(scenes):
        for number, qa in enumerate(qa_items(scene, _rng(seed, 'train', index, 'short'))):
            question_id = index * 10 + number
            if index % 2 == 0:
                vqa.append({'question_id': question_id, 'question': qa['question'],
                            'answer': [qa['keyword']] * 10, 'image': f'{index:05d}.png',
                            'dataset': 'vqa'})
            else:
                gqa[f'{question_id:08d}'] = {'imageId': str(index), 'question': qa['question'],
                                             'answer': qa['keyword'],
                                             'fullAnswer': qa['answer']}
    return dict(zip(SHORT_ANSWER_FILES, (vqa, gqa)))


def write_short_answer_files(data_dir: str | os.PathLike,
                             out_dir: str | os.PathLike | None = None) -> dict[str, int]:
    """Write the short-answer files of an existing shapes world.

    The training scenes are drawn again from the parameters in ``meta.json`` and checked
    against the world's captions, so the files describe exactly its images.

    Args:
        data_dir (str | os.PathLike): A folder written by :func:`generate_shapes_world`.
        out_dir (str | os.PathLike, optional): Where to write the files (their image
            paths stay relative to ``data_dir``). Defaults to ``data_dir``.

    Returns:
        dict[str, int]: Questions per file.

    Raises:
        ValueError: ``meta.json`` is missing or does not describe the world's captions.
    """
    data = Path(data_dir)
    meta_path = data / 'meta.json'
    if not meta_path.is_file():
        raise ValueError(f'{meta_path} not found: {data} is not a shapes world '
                         '(tools/make_shapes_world.py or tools/demo.py writes one)')
    params = json.loads(meta_path.read_text())['params']
    scenes = [scene for scene, _ in _make_split(
        'train', params['num_train'], params['image_size'], params['seed'],
        params['word_fraction'], params.get('jitter', 2), set(), _no_progress,
        unique=False)]
    captions = json.loads((data / 'cc_sbu_align/filter_cap.json').read_text())
    found = [a['caption'] for a in captions['annotations']]
    if found != [caption(scene) for scene in scenes]:
        raise ValueError(f'{data}: the scenes drawn from meta.json do not match '
                         'cc_sbu_align/filter_cap.json (made by another generator version?)')
    counts = {}
    for name, records in short_answer_records(scenes, params['seed']).items():
        _atomic_write(Path(out_dir or data) / name, _encode(name, records))
        counts[name] = len(records)
    return counts


def _lang_annotations(num: int, seed: int) -> dict[str, object]:
    """The language-only files: ``dolly.jsonl`` and ``alpaca.json``, ``num`` each."""
    dolly, alpaca = [], []
    for index in range(num):
        task = LANG_TASKS[index % len(LANG_TASKS)]
        sample = lang_sample(task, _rng(seed, 'dolly', index))
        dolly.append({'instruction': sample['instruction'], 'context': '',
                      'response': sample['response'], 'category': 'closed_qa'})
        sample = lang_sample(task, _rng(seed, 'alpaca', index))
        alpaca.append({'instruction': sample['alpaca_instruction'],
                       'input': sample['alpaca_input'], 'output': sample['response']})
    return {'dolly.jsonl': dolly, 'alpaca.json': alpaca}


def _eval_items(test_scenes: list[Scene], seed: int, per_task: int) -> list[dict]:
    """Held-out evaluation items: at most ``per_task`` per task, in task order."""
    by_task: dict[str, list[dict]] = {task: [] for task in VL_TASKS + LANG_TASKS}
    for index, scene in enumerate(test_scenes):
        image = f'images/test/{index:05d}.png'
        for item in _image_eval_items(scene, image, _rng(seed, 'test', index, 'text')):
            by_task[item['task']].append(item)
    select = _rng(seed, 'eval')
    items = []
    for task in VL_TASKS:
        pool = by_task[task]
        chosen = sorted(select.sample(range(len(pool)), min(per_task, len(pool))))
        items += [pool[i] for i in chosen]
    for task in LANG_TASKS:
        items += [_lang_eval_item(task, _rng(seed, 'eval', task, i)) for i in range(per_task)]
    for index, item in enumerate(items):
        item['id'] = f'{item["task"]}_{index:05d}'
    return [{'id': item.pop('id'), **item} for item in items]


def _encode(name: str, data) -> bytes:
    """File bytes for an annotation object (JSON, or JSON lines for ``.jsonl``)."""
    if name.endswith('.jsonl'):
        lines = [json.dumps(row, ensure_ascii=False) for row in data]
        return ('\n'.join(lines) + '\n').encode('utf-8')
    return _json_bytes(data)


def _record_count(data) -> int:
    """Number of records in an annotation object."""
    if isinstance(data, dict) and 'annotations' in data:
        return len(data['annotations'])
    return len(data)


def generate_shapes_world(out_dir: str | os.PathLike, num_train: int = 2000,
                          num_test: int = 200, image_size: int = 48, seed: int = 0,
                          eval_per_task: int = 50, num_lang: int | None = None,
                          word_fraction: float = 0.5, jitter: int = 2,
                          progress: bool = False) -> dict:
    """Write the shapes-world data set.

    Layout of ``out_dir``::

        images/{train,test}/NNNNN.png      the images (test never equals a train image)
        llava_detail.json                  'Describe the image in detail.' (single turn)
        llava_qa.json                      count / color / shape / word questions
        llava_dialog.json                  2-3 turn dialogues with follow-ups
        vqa_short.json, gqa_short.json     the QA questions answered with one word
                                           (VQA v2 / GQA formats; not in the demo's mix)
        cc_sbu_align/filter_cap.json       captions; images in cc_sbu_align/image/N.jpg
        dolly.jsonl, alpaca.json           language-only tasks
        eval_items.json                    held-out items, scored by score_answer
        meta.json                          parameters, vocabulary, files (written last)

    Args:
        out_dir (str | os.PathLike): Output folder (created if missing).
        num_train (int): Training images. Defaults to 2000.
        num_test (int): Held-out images. Defaults to 200.
        image_size (int): Image side in pixels (>= 32). Defaults to 48.
        seed (int): Seed of every random choice. Defaults to 0.
        eval_per_task (int): Evaluation items per task (at most). Defaults to 50.
        num_lang (int, optional): Samples in each language-only file. Defaults to
            ``num_train``.
        word_fraction (float): Share of images that show a word. Defaults to 0.5.
        jitter (int): Largest shift of an object or word from its centred position, in
            pixels (objects also vary in size by up to twice that). Defaults to 2.
        progress (bool): Show tqdm progress bars. Defaults to False.

    Returns:
        dict: The content of ``meta.json``.
    """
    if num_train < 1 or num_test < 1 or eval_per_task < 1:
        raise ValueError('num_train, num_test and eval_per_task must be positive, got '
                         f'{num_train}, {num_test}, {eval_per_task}')
    layout(image_size)  # validates the size
    out = Path(out_dir)
    bar = _no_progress
    if progress:
        from tqdm import tqdm
        bar = tqdm
    seen: set[str] = set()
    train = _make_split('train', num_train, image_size, seed, word_fraction, jitter, seen,
                        bar, unique=False)
    test = _make_split('test', num_test, image_size, seed, word_fraction, jitter, seen, bar)
    for index, (_, image) in enumerate(bar(train, desc='write train')):
        _atomic_write(out / 'images/train' / f'{index:05d}.png', _image_bytes(image, 'png'))
        _atomic_write(out / 'cc_sbu_align/image' / f'{index}.jpg', _image_bytes(image, 'jpg'))
    for index, (_, image) in enumerate(bar(test, desc='write test')):
        _atomic_write(out / 'images/test' / f'{index:05d}.png', _image_bytes(image, 'png'))
    for folder, suffix, keep in [('images/train', '.png', num_train),
                                 ('cc_sbu_align/image', '.jpg', num_train),
                                 ('images/test', '.png', num_test)]:
        _remove_stale(out / folder, suffix, keep)
    files = {**_train_annotations([s for s, _ in train], seed),
             **short_answer_records([s for s, _ in train], seed),
             **_lang_annotations(num_train if num_lang is None else num_lang, seed),
             'eval_items.json': _eval_items([s for s, _ in test], seed, eval_per_task)}
    summary = {}
    for name, data in files.items():
        payload = _encode(name, data)
        _atomic_write(out / name, payload)
        summary[name] = {'records': _record_count(data), 'bytes': len(payload)}
    for folder, num in [('images/train', num_train), ('images/test', num_test),
                        ('cc_sbu_align/image', num_train)]:
        size = sum(p.stat().st_size for p in (out / folder).iterdir() if p.is_file())
        summary[folder + '/'] = {'records': num, 'bytes': size}
    params = {'num_train': num_train, 'num_test': num_test, 'image_size': image_size,
              'seed': seed, 'eval_per_task': eval_per_task, 'word_fraction': word_fraction,
              'jitter': jitter,
              'num_lang': num_train if num_lang is None else num_lang}
    meta = _meta(params, files['eval_items.json'], summary)
    _atomic_write(out / 'meta.json', _json_bytes(meta))
    return meta


def _meta(params: dict, eval_items: list[dict], files: dict) -> dict:
    """The ``meta.json`` content: parameters, vocabulary, chance per task, files."""
    chance: dict[str, list[float]] = {}
    for item in eval_items:
        chance.setdefault(item['task'], []).append(item['chance'])
    return {
        'generator': 'mmgpt.demo.shapes_world', 'format_version': 1, 'params': params,
        'vocabulary': {'colors': sorted(COLORS), 'shapes': list(SHAPES),
                       'counts': list(COUNTS), 'words': list(WORDS),
                       'lang_words': list(LANG_WORDS), 'add_range': list(ADD_RANGE)},
        'tasks': {task: {'n': len(values), 'chance': round(sum(values) / len(values), 4)}
                  for task, values in chance.items()},
        'files': files}
