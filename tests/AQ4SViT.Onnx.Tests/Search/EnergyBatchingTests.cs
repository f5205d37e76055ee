using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Search;
using AQ4SViT.Onnx.Simulate;

namespace AQ4SViT.Onnx.Tests.Search;

/// <summary>
/// The energy estimate's operation count runs the calibration set batch by batch (the whole set at once overflowed a
/// tensor at 224×224 on the device): batches of 3 give what one run of all 10 images gives.
/// </summary>
public sealed class EnergyBatchingTests
{
    [Theory]
    [InlineData("tests/spikformer-d64")]
    [InlineData("tests/sdt-d64-dynamo")] // fixed batch of 1
    public void CountOperations_InBatches_EqualsOneRun(string model)
    {
        var file = OnnxModelFile.Load(RepoPaths.Model(model));
        var weights = new WeightTable(file, WeightCatalog.Find(file), new QuantizationOptions());
        var calibration = DataSplits.Select(SharedData.FashionMnist, DataSplit.Search, 10);
        SimulatorBackend Backend(int batch) => new(Simulator.Load(RepoPaths.Model(model), 2), weights, calibration, calibration, InputScaling.PixelOver255, batch, proxies: false);
        var setting = BitVector.AllFloat(weights.Weights.Count).With([.. Enumerable.Range(0, weights.Weights.Count)], 4);

        var batched = Backend(3).CountOperations(setting);
        var whole = Backend(100).CountOperations(setting);

        Assert.Equal(10, whole.Images);
        Assert.Equal(whole.Images, batched.Images);
        Assert.Equal(whole.Layers().Select(l => (l.Node, l.Macs, l.Passes)), batched.Layers().Select(l => (l.Node, l.Macs, l.Passes)));
        Assert.Equal(whole.Rates.Rates(), batched.Rates.Rates());
        Assert.Contains(whole.Rates.Rates(), r => r.Rate > 0);
    }
}
