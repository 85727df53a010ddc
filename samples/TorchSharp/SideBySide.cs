using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptGen.Samples.TorchSharpSample;

/// <summary>The losses and optimizer-step times of one training run.</summary>
public sealed record TrainingRun(string Optimizer, float[] Losses, double[] StepMilliseconds);

/// <summary>
/// Trains the same TorchSharp MLP (same initial weights, same batches) with whatever optimizer a factory makes: a
/// 2-128-128-3 tanh network classifying three interleaved spirals the sample generates, cross-entropy loss,
/// mini-batches of 256 drawn with a fixed seed.
/// </summary>
public static class SideBySide
{
    /// <summary>Three spiral arms of <paramref name="perClass"/> points each, with a little noise (deterministic).</summary>
    public static (Tensor Inputs, Tensor Labels) Spirals(int perClass, int seed = 7)
    {
        var random = new Random(seed);
        var inputs = new float[3 * perClass * 2];
        var labels = new long[3 * perClass];
        for (int c = 0; c < 3; c++)
        {
            for (int i = 0; i < perClass; i++)
            {
                double r = (i + 1.0) / perClass;
                double angle = (c * 2 * Math.PI / 3) + (4 * r) + (0.2 * (random.NextDouble() - 0.5));
                int n = (c * perClass) + i;
                inputs[2 * n] = (float)(r * Math.Cos(angle));
                inputs[(2 * n) + 1] = (float)(r * Math.Sin(angle));
                labels[n] = c;
            }
        }

        return (torch.tensor(inputs, [3L * perClass, 2]), torch.tensor(labels));
    }

    /// <summary>The network, with weights drawn from seed <paramref name="seed"/> (the same for every run).</summary>
    public static Sequential Model(int seed)
    {
        torch.random.manual_seed(seed);
        return nn.Sequential(
            ("hidden1", nn.Linear(2, 128)),
            ("tanh1", nn.Tanh()),
            ("hidden2", nn.Linear(128, 128)),
            ("tanh2", nn.Tanh()),
            ("output", nn.Linear(128, 3)));
    }

    /// <summary><paramref name="steps"/> steps of mini-batch training with the optimizer <paramref name="create"/> makes for the model.</summary>
    public static TrainingRun Train(string name, Func<Sequential, torch.optim.Optimizer> create, int steps, int seed = 1)
    {
        (Tensor inputs, Tensor labels) = Spirals(perClass: 1000);
        using Sequential model = Model(seed);
        using torch.optim.Optimizer optimizer = create(model);
        using var loss = nn.CrossEntropyLoss();
        var batches = new Random(seed);
        var losses = new float[steps];
        var times = new double[steps];
        var watch = new Stopwatch();
        for (int step = 0; step < steps; step++)
        {
            using DisposeScope scope = torch.NewDisposeScope();
            long[] rows = Enumerable.Range(0, 256).Select(_ => (long)batches.Next((int)labels.shape[0])).ToArray();
            using Tensor index = torch.tensor(rows);
            Tensor output = model.forward(inputs.index_select(0, index));
            Tensor value = loss.forward(output, labels.index_select(0, index));
            optimizer.zero_grad();
            value.backward();
            watch.Restart();
            optimizer.step();
            times[step] = watch.Elapsed.TotalMilliseconds;
            losses[step] = value.item<float>();
        }

        inputs.Dispose();
        labels.Dispose();
        return new TrainingRun(name, losses, times);
    }

    /// <summary>The largest |a − b| / max(|a|, 1e-3) over the two loss curves.</summary>
    public static double LargestRelativeDifference(TrainingRun a, TrainingRun b) =>
        a.Losses.Zip(b.Losses).Max(pair => Math.Abs(pair.First - pair.Second) / Math.Max(Math.Abs(pair.First), 1e-3));
}
