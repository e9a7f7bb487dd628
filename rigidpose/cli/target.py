"""``rigidpose target``: make a target from an image (from-image), from a mesh and photos
(register), or from a mesh alone (from-mesh)."""

from __future__ import annotations

import argparse
from pathlib import Path

import rigidpose as rp
from rigidpose.outputs import check_output_folder, is_target_folder


def add_parser(commands: argparse._SubParsersAction) -> None:
    target = commands.add_parser("target", help="make targets", description="Make targets.")
    target_commands = target.add_subparsers(dest="target_command", metavar="KIND", required=True)
    _add_from_image_parser(target_commands)
    _add_register_parser(target_commands)
    _add_from_mesh_parser(target_commands)


def _add_target_output_arguments(command: argparse.ArgumentParser, made_from: str) -> None:
    command.add_argument("--out", required=True, help="target folder to write (a new or empty folder)")
    command.add_argument("--force", action="store_true", help="replace a target folder already at --out")
    command.add_argument("--name", help=f"target name (default: the {made_from}'s file name)")
    command.add_argument(
        "--features", default="sift", choices=("sift", "orb", "akaze"), help="local feature kind"
    )


def _check_target_out(args: argparse.Namespace, *inputs: str | None) -> Path:
    """``--out`` of a ``target`` command: a new or empty folder, or a target with ``--force``."""
    return check_output_folder(
        args.out, "--out", ours=is_target_folder, kind="a target", force=args.force, inputs=inputs
    )


def _add_from_image_parser(target_commands: argparse._SubParsersAction) -> None:
    from_image = target_commands.add_parser(
        "from-image", help="a planar target from an image", description=_cmd_target_from_image.__doc__
    )
    from_image.add_argument("image", help="scan or photo of the printed sheet, cropped to its edges")
    from_image.add_argument("--width-m", type=float, required=True, help="printed width in metres")
    _add_target_output_arguments(from_image, "image")
    from_image.set_defaults(run=_cmd_target_from_image)


def _cmd_target_from_image(args: argparse.Namespace) -> int:
    """Make a planar target (paper sheet, poster, book cover) from a scan or photo and its printed width."""
    from rigidpose.targets import planar_target, sheet_trackability
    from rigidpose.targets.trackability import POOR_SCORE

    _check_target_out(args, args.image)
    image = rp.io.read_image(args.image)
    name = args.name or Path(args.image).stem
    target = planar_target(image, args.width_m, name=name, features=args.features)
    target.save(args.out)
    height_m = target.mesh.extents[1]
    reference = target.reference_images[0]
    used = (
        ""
        if reference.shape == image.shape
        else f" (downscaled to {reference.shape[1]}x{reference.shape[0]})"
    )
    print(
        f"wrote {args.out}: target {name!r}, {args.width_m:.3f} x {height_m:.3f} m, "
        f"{len(target.appearance)} {args.features} features from a {image.shape[1]}x{image.shape[0]} image{used}"
    )
    report = sheet_trackability(target)
    if report.score >= POOR_SCORE:  # a poor score was logged as a warning already
        print(report)
    return 0


def _add_register_parser(target_commands: argparse._SubParsersAction) -> None:
    register = target_commands.add_parser(
        "register",
        help="a textured 3D target from a mesh and photos",
        description=_cmd_target_register.__doc__,
    )
    register.add_argument("--mesh", required=True, help="the object's mesh (ply, obj, stl, glb, ...)")
    register.add_argument(
        "--units", required=True, choices=tuple(rp.MESH_UNITS), help="length unit of the mesh"
    )
    register.add_argument(
        "--image", action="append", required=True, help="a photo of the object (repeatable)"
    )
    register.add_argument(
        "--camera", action="append", required=True, help="camera file of the photos (one, or one per --image)"
    )
    register.add_argument(
        "--correspondences",
        action="append",
        required=True,
        help='JSON {"units", "points_3d", "points_2d"}: mesh points and their pixels (one per --image)',
    )
    _add_target_output_arguments(register, "mesh")
    register.set_defaults(run=_cmd_target_register)


def _cmd_target_register(args: argparse.Namespace) -> int:
    """Make a textured 3D target from its mesh and photos with a few clicked correspondences."""
    from rigidpose.targets.register import load_correspondences, register_target

    if len(args.correspondences) != len(args.image):
        raise rp.InvalidInputError(
            f"expected one --correspondences per --image, got {len(args.correspondences)} for {len(args.image)}"
        )
    mesh = rp.load_mesh(args.mesh, units=args.units)
    cameras = args.camera if len(args.camera) == len(args.image) else args.camera * len(args.image)
    if len(args.camera) not in (1, len(args.image)):
        raise rp.InvalidInputError("expected one --camera for all images or one per --image")
    _check_target_out(args, args.mesh, *args.image, *args.camera, *args.correspondences)
    photos = []
    for image_path, camera_path, corr_path in zip(args.image, cameras, args.correspondences):
        points_3d, points_2d = load_correspondences(corr_path)
        photos.append((rp.io.read_image(image_path), rp.Camera.load(camera_path), points_3d, points_2d))
    name = args.name or Path(args.mesh).stem
    target, reports = register_target(mesh, photos, name, features=args.features, mesh_units=args.units)
    target.save(args.out)
    for image_path, report in zip(args.image, reports):
        print(
            f"{image_path}: clicks fit to {report.click_error_px:.2f} px RMS; "
            f"{report.features_on_mesh} of {report.features_found} {args.features} features on the mesh"
        )
    print(f"wrote {args.out}: target {name!r}, {len(target.appearance)} features")
    return 0


def _add_from_mesh_parser(target_commands: argparse._SubParsersAction) -> None:
    from_mesh = target_commands.add_parser(
        "from-mesh",
        help="a 3D target from a mesh alone (textured, or with a keypoint model)",
        description=_cmd_target_from_mesh.__doc__,
    )
    from_mesh.add_argument("mesh", help="textured mesh: glTF/GLB, or OBJ with its material and texture")
    from_mesh.add_argument(
        "--units", default="m", choices=tuple(rp.MESH_UNITS), help="length unit of the mesh"
    )
    _add_target_output_arguments(from_mesh, "mesh")
    from_mesh.add_argument("--views", type=int, default=20, help="renders around the object")
    from_mesh.add_argument("--model", help="a keypoint model for this object (.onnx, from rigidpose train)")
    from_mesh.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    from_mesh.set_defaults(run=_cmd_target_from_mesh)


def _cmd_target_from_mesh(args: argparse.Namespace) -> int:
    """Make a 3D target from a mesh alone: a textured mesh registers its features by rendering
    itself from all around; with --model, the target also carries a learned keypoint model
    (`rigidpose train`), which is all an untextured mesh needs."""
    from rigidpose.targets.from_mesh import target_from_mesh

    _check_target_out(args, args.mesh, args.model)
    mesh = rp.load_mesh(args.mesh, units=args.units)
    name = args.name or Path(args.mesh).stem
    model = rp.KeypointModel(args.model).data if args.model else None  # checked before rendering
    textured = getattr(mesh.visual, "kind", None) == "texture"
    if textured or model is None:
        target, report = target_from_mesh(
            mesh, name, features=args.features, views=args.views, progress=not args.quiet
        )
        found = f"{report.features_on_mesh} {args.features} features from {report.views} rendered views"
    else:
        target, found = rp.Target(name, mesh), "no texture: no features"
    if model is not None:
        target = target.with_keypoint_model(model)
        found += f", keypoint model {args.model} ({len(target.keypoints_obj)} keypoints)"
    target.save(args.out)
    print(f"wrote {args.out}: target {name!r}, {found}")
    return 0
