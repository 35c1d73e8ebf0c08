"""Tiny randomly initialised SAM 3 models and processors, for tests and CPU smoke benchmarks.

They are the real transformers classes at toy sizes, saved like a downloaded checkpoint so the
normal loader reads them. The video tracker's memory is 64 wide and splits object pointers into
64-wide tokens, so its hidden sizes must be a larger multiple of 64 (128 here).
"""

from __future__ import annotations

TINY_IMAGE = 112  # 8 x 8 patches of 14 px
TINY_WIDTH = 128


def tiny_sam3_video_config():
    from transformers import Sam3Config, Sam3TrackerVideoConfig, Sam3VideoConfig
    from transformers.models.sam3.configuration_sam3 import (
        Sam3DETRDecoderConfig,
        Sam3DETREncoderConfig,
        Sam3GeometryEncoderConfig,
        Sam3MaskDecoderConfig,
        Sam3VisionConfig,
        Sam3ViTConfig,
    )

    side, width, patches = TINY_IMAGE, TINY_WIDTH, TINY_IMAGE // 14

    def vision() -> Sam3VisionConfig:
        backbone = Sam3ViTConfig(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            image_size=side,
            patch_size=14,
            window_size=4,
            global_attn_indexes=[0],
        )
        # four FPN levels: the detector uses all four, the tracker the first three
        return Sam3VisionConfig(
            backbone_config=backbone,
            fpn_hidden_size=width,
            scale_factors=[4.0, 2.0, 1.0, 0.5],
            backbone_feature_sizes=[[patches * 4] * 2, [patches * 2] * 2, [patches] * 2],
        )

    detector = Sam3Config(
        vision_config=vision(),
        text_config=dict(
            vocab_size=64,
            hidden_size=32,
            intermediate_size=64,
            projection_dim=width,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=32,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        ),
        geometry_encoder_config=Sam3GeometryEncoderConfig(
            hidden_size=width, num_layers=1, num_attention_heads=2, intermediate_size=64
        ),
        detr_encoder_config=Sam3DETREncoderConfig(
            hidden_size=width, num_layers=1, num_attention_heads=2, intermediate_size=64
        ),
        detr_decoder_config=Sam3DETRDecoderConfig(
            hidden_size=width,
            num_layers=1,
            num_queries=4,
            num_attention_heads=2,
            intermediate_size=64,
        ),
        mask_decoder_config=Sam3MaskDecoderConfig(hidden_size=width, num_upsampling_stages=2),
    )
    tracker = Sam3TrackerVideoConfig(
        vision_config=vision(),
        prompt_encoder_config=dict(
            hidden_size=width, image_size=side, patch_size=14, mask_input_channels=8
        ),
        mask_decoder_config=dict(
            hidden_size=width,
            mlp_dim=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            iou_head_hidden_dim=32,
        ),
        memory_attention_hidden_size=width,
        memory_encoder_hidden_size=width,
        mask_downsampler_embed_dim=width,
        memory_fuser_embed_dim=width,
        memory_fuser_intermediate_dim=64,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=64,
        num_maskmem=2,
        max_object_pointers_in_encoder=2,
    )
    # the setter sizes the vision and prompt encoders alike (not in the constructor's signature)
    tracker.image_size = side
    # accept every detection from random weights, so the tracker has objects to follow
    return Sam3VideoConfig(
        detector_config=detector,
        tracker_config=tracker,
        low_res_mask_size=patches * 4,
        hotstart_delay=0,
        score_threshold_detection=0.0,
        new_det_thresh=0.0,
    )


def sam3_processor(side: int = TINY_IMAGE):
    """A Sam3VideoProcessor (image + video processor + a letter-level CLIP tokenizer) built
    offline."""
    from transformers import CLIPTokenizer, Sam3ImageProcessor, Sam3VideoProcessor
    from transformers.models.sam2_video.video_processing_sam2_video import Sam2VideoVideoProcessor

    mask_side = side // 14 * 4  # the low-resolution mask grid: 4x the patch grid
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for letter in "abcdefghijklmnopqrstuvwxyz":
        vocab[letter] = len(vocab)
        vocab[letter + "</w>"] = len(vocab)
    return Sam3VideoProcessor(
        image_processor=Sam3ImageProcessor(
            size={"height": side, "width": side},
            mask_size={"height": mask_side, "width": mask_side},
        ),
        video_processor=Sam2VideoVideoProcessor(size={"height": side, "width": side}),
        tokenizer=CLIPTokenizer(vocab=vocab, merges=[]),
    )


def save_tiny_sam3(path: str) -> None:
    """Save the tiny SAM 3 (detector + tracker) and its processors as one checkpoint directory."""
    from transformers import Sam3VideoModel

    Sam3VideoModel(tiny_sam3_video_config()).save_pretrained(path)
    sam3_processor().save_pretrained(path)
