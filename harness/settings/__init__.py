"""Evaluation settings (protocols): mask/box/point-initialised, unsupervised, interactive VOS, VOT.

A setting turns ground truth into the prompts a method receives, drives the method's session and
names the metrics it reports. Methods never see ground truth; settings never write files.
"""
