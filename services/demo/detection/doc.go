// Package detection generates a deterministic object-detection program: the owner's question
// (QuestionDefined, level boxes, labels car, pedestrian and cyclist), dashcam images that
// state their size in pixels (ItemIngested.Extent), a detector's pre-label of every image
// (PreLabelProposed whose boxes carry their scores, some of them low), gold boxes for some
// images (GoldLabelSet), and several annotators per image drawing boxes with the noise
// annotators make:
//
//   - a missed object, more often a small one (Cohort.Miss, Cohort.SmallMiss);
//   - edges off by a normal error proportional to the object's size (Cohort.Jitter);
//   - a wrong class, mostly cyclist and pedestrian taken for each other (Cohort.Confuse);
//   - a box where there is no object (Cohort.Spurious).
//
// The detector (Detector) finds each object with a recall that drops for small ones, scores
// what it finds (lower for small objects and for wrong classes), and adds a few
// low-scoring false positives; PreLabelProposed.Confidence is the lowest score of its boxes,
// so the router sees the least sure box of an image (an image where it finds nothing gets a
// confidence of 0.7 to 0.95). Every box lies inside its image, in whole pixels.
// Workload keeps the ground truth: every image's objects, every label's and pre-label's boxes.
package detection
