"""Baseline trackers: what users pick today, measured side by side with rigidpose.

- ``ArucoBaseline``: a sheet printed with an ArUco marker; per frame ``cv2.aruco`` detection and
  ``solvePnP(SOLVEPNP_IPPE_SQUARE)`` on the marker's four corners.
- ``OrbBaseline``: OpenCV's textured-object tutorial pipeline, per frame: ORB with 2000 features,
  brute-force kNN matching with ratio test 0.70, ``solvePnPRansac`` (500 iterations, 6 px,
  confidence 0.99), a pose when at least 30 inliers.

Neither follows the object between frames; each frame is solved on its own. Both take frames as
BGR uint8 and return one ``ObjectPose`` per target, like every tracker the benchmark runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from ..camera import Camera
from ..errors import InvalidInputError
from ..geometry import Pose
from ..io import Frame, ObjectPose
from ..solve import reprojection_rms_px
from ..target import Target
from ..targets.planar import image_points_obj

__all__ = ["ArucoBaseline", "OrbBaseline"]


class ArucoBaseline:
    """Per-frame pose from one printed ArUco marker of known place on the target.

    Args:
        target: the target the marker is printed on.
        camera: intrinsics and distortion of the frames.
        markers: ``[{"dictionary": "DICT_4X4_50", "id": 7, "corners_obj": (4, 3)}]``, corners in
            the target's frame, metres, in ArUco's order (top-left, top-right, bottom-right,
            bottom-left as printed).
    """

    name = "baseline-aruco"

    def __init__(self, target: Target, camera: Camera, markers: Sequence[dict[str, Any]]) -> None:
        if not markers:
            raise InvalidInputError(f"baseline-aruco: target {target.name!r} has no printed marker")
        marker = markers[0]
        self.target, self.camera = target, camera
        self.marker_id = int(marker["id"])
        dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, marker["dictionary"]))
        self.detector = cv2.aruco.ArucoDetector(dictionary, cv2.aruco.DetectorParameters())
        self.corners_obj = np.asarray(marker["corners_obj"], dtype=np.float64)
        side = float(np.linalg.norm(self.corners_obj[1] - self.corners_obj[0]))
        # IPPE_SQUARE's marker frame: x right, y up, z out of the print (toward the viewer)
        self.square_marker = np.array(
            [
                [-side / 2, side / 2, 0],
                [side / 2, side / 2, 0],
                [side / 2, -side / 2, 0],
                [-side / 2, -side / 2, 0],
            ]
        )
        # our sheet frame has y down and z into the sheet: T_obj_marker flips y and z
        T_obj_marker = Pose(np.diag([1.0, -1.0, -1.0]), self.corners_obj.mean(axis=0))
        self.T_marker_obj = T_obj_marker.inv()

    def update(self, frame: Frame) -> list[ObjectPose]:
        gray = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
        corners, ids, _ = self.detector.detectMarkers(gray)
        if ids is not None:
            for found, marker_id in zip(corners, ids.ravel()):
                if int(marker_id) != self.marker_id:
                    continue
                pixels = found.reshape(4, 2).astype(np.float64)
                ok, rvec, tvec = cv2.solvePnP(
                    self.square_marker,
                    pixels,
                    self.camera.K,
                    self.camera.dist_coeffs,
                    flags=cv2.SOLVEPNP_IPPE_SQUARE,
                )
                if not ok or not np.all(np.isfinite(rvec)) or not np.all(np.isfinite(tvec)):
                    break
                T_cam_obj = Pose.from_rvec_tvec(rvec, tvec) @ self.T_marker_obj
                error = reprojection_rms_px(self.camera, T_cam_obj, self.corners_obj, pixels)
                return [ObjectPose(self.target.name, "tracking", T_cam_obj, 4, error, 1.0)]
        return [ObjectPose(self.target.name, "searching")]


class OrbBaseline:
    """OpenCV's textured-object tutorial pipeline, run on every frame independently.

    The reference features come from the target's appearance when it holds ORB features, else
    from its first reference image (a planar target made from an image).
    """

    name = "baseline-orb"
    features = 2000
    ratio = 0.70
    ransac_iterations = 500
    ransac_threshold_px = 6.0
    ransac_confidence = 0.99
    min_inliers = 30

    def __init__(self, target: Target, camera: Camera) -> None:
        self.target, self.camera = target, camera
        self.orb = cv2.ORB_create(nfeatures=self.features)
        if target.appearance is not None and target.appearance.detector == "orb":
            self.descriptors, self.points_obj = target.appearance.descriptors, target.appearance.points_obj
        elif target.reference_images:
            image = target.reference_images[0]
            keypoints, self.descriptors = self.orb.detectAndCompute(
                cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), None
            )
            pixels = np.array([k.pt for k in keypoints], dtype=np.float64)
            width_m = float(target.mesh.extents[0])
            self.points_obj = image_points_obj(pixels, (image.shape[1], image.shape[0]), width_m)
        else:
            raise InvalidInputError(
                f"baseline-orb: target {target.name!r} has no ORB features and no reference image"
            )
        if self.descriptors is None or len(self.descriptors) < self.min_inliers:
            raise InvalidInputError(f"baseline-orb: target {target.name!r} has too little texture for ORB")
        self.matcher = cv2.BFMatcher(cv2.NORM_HAMMING)

    def update(self, frame: Frame) -> list[ObjectPose]:
        gray = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
        keypoints, descriptors = self.orb.detectAndCompute(gray, None)
        lost = [ObjectPose(self.target.name, "searching")]
        if descriptors is None or len(keypoints) < self.min_inliers:
            return lost
        pairs = self.matcher.knnMatch(descriptors, self.descriptors, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < self.ratio * p[1].distance]
        if len(good) < self.min_inliers:
            return lost
        pixels = np.array([keypoints[g.queryIdx].pt for g in good], dtype=np.float64)
        points_obj = self.points_obj[[g.trainIdx for g in good]]
        ok, rvec, tvec, inliers = cv2.solvePnPRansac(
            points_obj,
            pixels,
            self.camera.K,
            self.camera.dist_coeffs,
            iterationsCount=self.ransac_iterations,
            reprojectionError=self.ransac_threshold_px,
            confidence=self.ransac_confidence,
            flags=cv2.SOLVEPNP_ITERATIVE,
        )
        if not ok or inliers is None or len(inliers) < self.min_inliers:
            return lost
        if not (np.all(np.isfinite(rvec)) and np.all(np.isfinite(tvec))):
            return lost
        inliers = inliers.ravel()
        T_cam_obj = Pose.from_rvec_tvec(rvec, tvec)
        error = reprojection_rms_px(self.camera, T_cam_obj, points_obj[inliers], pixels[inliers])
        confidence = min(1.0, len(inliers) / 100.0)
        return [ObjectPose(self.target.name, "tracking", T_cam_obj, len(inliers), error, confidence)]
