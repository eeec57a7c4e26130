# The MultiModal-GPT release with its own numerics, to reproduce its answers (not to
# train): text attends to the image the open_flamingo v1 way (media_attention='following',
# the question and the answer see no image) and the prompt is the release demo's (earlier
# answers without EOS, template 'mmgpt_release_v0'). docs/export.md says what differs.
#   python tools/chat.py configs/mmgpt_release_v0_faithful.py checkpoints/mmgpt-lora-v0-release.pt
_base_ = ['./mmgpt_release_v0.py']

model = dict(media_attention='following', template='mmgpt_release_v0')
