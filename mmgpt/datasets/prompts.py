"""Instruction texts that datasets put into a conversation when the source has none.

These are the *question* texts of a turn, not template text: headers, BOS/EOS and
separators belong to :mod:`mmgpt.templates` alone.
"""

__all__ = ['CAPTION_REQUESTS', 'OCR_REQUEST', 'TRUE_FALSE_REQUEST', 'ENTAILMENT_REQUEST']

#: The ten caption requests of the MultiModal-GPT paper (Table 3), used for captioning
#: data (COCO Caption, cc_sbu_align); one is drawn per record with a seeded generator.
CAPTION_REQUESTS = (
    'Can you describe the image?',
    'Could you provide a description of the image?',
    'What do you see in this image?',
    'Share your thoughts on the content of the image.',
    "Please narrate what's happening in the picture.",
    'Can you give a brief explanation of the image?',
    'Describe the main elements and details present in the image.',
    'In your own words, what is depicted in the image?',
    "How would you describe the image's content in a caption?",
    'Can you suggest an insightful caption that highlights the underlying message of the '
    'image?',
)

#: TextOCR: the question answered with the legible words of an image.
OCR_REQUEST = 'What text is in the image?'

#: NLVR v1/v2: ``{sentence}`` is the statement to verify; answered "True" or "False".
TRUE_FALSE_REQUEST = '{sentence}\nIs this statement true or false?'

#: SNLI-VE: ``{sentence}`` is the hypothesis; answered with the gold label
#: ("entailment", "neutral" or "contradiction").
ENTAILMENT_REQUEST = ('{sentence}\nDoes the image entail this statement, contradict it, '
                      'or is it neutral?')
