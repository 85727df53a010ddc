using System;
using System.Collections.Generic;
using System.Diagnostics;

namespace OptGen.Samples.Training;

/// <summary>A training problem: data, model shape and batch size.</summary>
public sealed record Problem(string Name, Dataset Train, Dataset Test, LossKind Loss, int[] Layers, int BatchSize);

/// <summary>An optimizer the sample can train with.</summary>
/// <param name="Key">The <c>--optimizer</c> name.</param>
/// <param name="Display">The name in tables and legends.</param>
/// <param name="LearningRate">η used for every problem.</param>
/// <param name="Create">Makes the optimizer for a parameter count (η already set).</param>
public sealed record OptimizerChoice(string Key, string Display, double LearningRate, Func<int, Optimizer> Create);

/// <summary>The outcome of one run.</summary>
public sealed record RunResult(Problem Problem, OptimizerChoice Optimizer, double[] Steps, double[] TrainLoss, double FinalLoss, double TestMetric, string MetricName, int BytesPerParameter, double Seconds);

/// <summary>The training loop: mini-batch gradients by hand, one fused OptGen step per batch.</summary>
public static class Trainer
{
    /// <summary>The catalog optimizers and the user-declared one, with learning rates that suit both problems.</summary>
    public static readonly OptimizerChoice[] Choices =
    [
        new("adam", "Adam", 0.01, n => new Adam(n) { LearningRate = 0.01 }),
        new("adamw", "AdamW", 0.01, n => new AdamW(n) { LearningRate = 0.01 }),
        new("sgd-momentum", "SGD momentum 0.9", 0.05, n => new SgdMomentum(n) { LearningRate = 0.05 }),
        new("rmsprop", "RMSprop", 0.01, n => new RmsProp(n) { LearningRate = 0.01 }),
        new("adam-min-t", "AdamMinT (lecture)", 0.01, n => new AdamMinT(n) { LearningRate = 0.01 }),
        new("lecture-adamw", "LectureAdamW (user-declared)", 0.01, n => new LectureAdamW(n) { LearningRate = 0.01 }),
        new("adam-per-example", "Adam, per-example squares (user-declared)", 0.01, n => new PerExampleSquaresAdam(n) { LearningRate = 0.01 }),
    ];

    /// <summary>The two problems: two-spirals classification and a 1-D regression.</summary>
    public static Problem[] Problems() =>
    [
        new("spirals", Datasets.TwoSpirals(500, seed: 1), Datasets.TwoSpirals(500, seed: 2), LossKind.SoftmaxCrossEntropy, [2, 48, 48, 2], 64),
        new("regression", Datasets.Wave(1000, seed: 3), Datasets.Wave(1000, seed: 4), LossKind.HalfSquaredError, [1, 32, 32, 1], 32),
    ];

    /// <summary>Trains one model; <paramref name="progress"/> is called after every step.</summary>
    public static RunResult Run(Problem problem, OptimizerChoice choice, int steps, int seed, Action<int>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        var model = new Mlp(problem.Loss, problem.Layers);
        var parameters = new float[model.ParameterCount];
        var gradients = new float[model.ParameterCount];
        var squares = new float[model.ParameterCount];
        var batch = new int[problem.BatchSize];
        model.Initialize(parameters, new Random(seed));
        var sampler = new Random(seed + 1);
        Optimizer optimizer = choice.Create(model.ParameterCount);
        int every = Math.Max(1, steps / 50);
        var at = new List<double>();
        var curve = new List<double>();
        float scale = 1f / problem.BatchSize;
        for (int step = 1; step <= steps; step++)
        {
            if (optimizer.Descriptor.ReadsPerExampleSquares)
            {
                // The gradient and the batch mean of per-example squared gradients, by the BackPACK product.
                for (int b = 0; b < batch.Length; b++)
                {
                    batch[b] = sampler.Next(problem.Train.Count);
                }

                model.BatchGradient(parameters, problem.Train, batch, gradients, squares);
                optimizer.Step(parameters, gradients, squares);
            }
            else
            {
                Array.Clear(gradients);
                for (int b = 0; b < problem.BatchSize; b++)
                {
                    int i = sampler.Next(problem.Train.Count);
                    model.LossAndGradient(parameters, problem.Train.Input(i), problem.Train.Target(i), gradients, scale);
                }

                optimizer.Step(parameters, gradients);
            }

            if (step == 1 || step % every == 0 || step == steps)
            {
                at.Add(step);
                curve.Add(MeanLoss(model, parameters, problem.Train));
            }

            progress?.Invoke(step);
        }

        double final = curve.Count > 0 ? curve[^1] : MeanLoss(model, parameters, problem.Train);
        (double metric, string metricName) = problem.Loss == LossKind.SoftmaxCrossEntropy
            ? (Accuracy(model, parameters, problem.Test), "test accuracy")
            : (Rmse(model, parameters, problem.Test), "test RMSE");
        int bytes = optimizer.Descriptor.BytesReadPerElement + optimizer.Descriptor.BytesWrittenPerElement;
        return new RunResult(problem, choice, [.. at], [.. curve], final, metric, metricName, bytes, clock.Elapsed.TotalSeconds);
    }

    /// <summary>The mean loss over a data set.</summary>
    public static double MeanLoss(Mlp model, ReadOnlySpan<float> parameters, Dataset data)
    {
        double total = 0;
        for (int i = 0; i < data.Count; i++)
        {
            total += model.LossAndGradient(parameters, data.Input(i), data.Target(i), [], 0);
        }

        return total / data.Count;
    }

    private static double Accuracy(Mlp model, ReadOnlySpan<float> parameters, Dataset data)
    {
        int correct = 0;
        for (int i = 0; i < data.Count; i++)
        {
            ReadOnlySpan<float> output = model.Forward(parameters, data.Input(i));
            int predicted = output[1] > output[0] ? 1 : 0;
            correct += predicted == (int)data.Target(i)[0] ? 1 : 0;
        }

        return (double)correct / data.Count;
    }

    private static double Rmse(Mlp model, ReadOnlySpan<float> parameters, Dataset data)
    {
        double total = 0;
        for (int i = 0; i < data.Count; i++)
        {
            float error = model.Forward(parameters, data.Input(i))[0] - data.Target(i)[0];
            total += error * error;
        }

        return Math.Sqrt(total / data.Count);
    }
}
