// Tests run one at a time: most of them already use both cores (ONNX Runtime sessions, the simulator's threads),
// and running ORT and simulator work side by side only adds contention on a 2-core machine.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
