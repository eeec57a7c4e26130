# The embedded demo's synthetic "shapes world" (tools/demo.py writes it to
# work_dirs/demo/data/; tools/make_shapes_world.py elsewhere), in the public formats the
# dataset classes read. The demo's stages pick from these entries: stage 0 the captions,
# stage 1 all of them, stage 2 the LLaVA-style files (sampled) and Dolly.
#
# The entries hold paths relative to the data folder; each stage sets that folder once,
# as its dataset's `data_root` (train_dataloader.dataset.data_root, default shapes_root),
# which the stage gives every entry: tools/demo.py points all of them at its own folder
# with that one option.
shapes_root = 'work_dirs/demo/data/'
shapes_images = 'images/train/'
shapes_captions = dict(type='CcSbuAlignDataset', ann_file='cc_sbu_align/filter_cap.json',
                       img_prefix='cc_sbu_align/image/')
shapes_detail = dict(type='LlavaDataset', ann_file='llava_detail.json', img_prefix=shapes_images)
shapes_qa = dict(type='LlavaDataset', ann_file='llava_qa.json', img_prefix=shapes_images)
shapes_dialog = dict(type='LlavaDialDataset', ann_file='llava_dialog.json',
                     img_prefix=shapes_images)
shapes_dolly = dict(type='DollyDataset', ann_file='dolly.jsonl')
