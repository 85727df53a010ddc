// OptGen's first sample: logistic regression on a synthetic two-class data set, trained with an optimizer that
// is declared with attributes below. The generator turns the declaration into a fused SIMD kernel; the loop
// computes gradients by hand and calls Step once per mini-batch.

using System;
using OptGen;

const int Features = 64;
const int Examples = 4096;
const int BatchSize = 64;
const int Steps = 600;

var random = new Random(7);
(float[] x, float[] y) = MakeData(random);

// One parameter vector: 64 weights and a bias.
var weights = new float[Features + 1];
var gradients = new float[Features + 1];
var optimizer = new LectureAdam(weights.Length) { LearningRate = 0.02 };

Console.WriteLine($"Training logistic regression ({Features} features, {Examples} examples) with {nameof(LectureAdam)}:");
Console.WriteLine($"  {optimizer.Descriptor.BytesReadPerElement + optimizer.Descriptor.BytesWrittenPerElement} bytes of memory traffic per parameter per step, one fused pass.");
for (int step = 1; step <= Steps; step++)
{
    Array.Clear(gradients);
    for (int b = 0; b < BatchSize; b++)
    {
        int i = random.Next(Examples);
        double error = Sigmoid(Logit(weights, x, i)) - y[i];
        for (int j = 0; j < Features; j++)
        {
            gradients[j] += (float)(error * x[(i * Features) + j] / BatchSize);
        }

        gradients[Features] += (float)(error / BatchSize);
    }

    optimizer.Step(weights, gradients);
    if (step == 1 || step % 100 == 0)
    {
        Console.WriteLine($"  step {step,4}: loss {Loss(weights, x, y):F4}, accuracy {Accuracy(weights, x, y):P1}");
    }
}

static (float[] X, float[] Y) MakeData(Random random)
{
    // Two Gaussian clouds whose means differ along a random direction.
    var direction = new double[Features];
    for (int j = 0; j < Features; j++)
    {
        direction[j] = Normal(random) / Math.Sqrt(Features);
    }

    var x = new float[Examples * Features];
    var y = new float[Examples];
    for (int i = 0; i < Examples; i++)
    {
        y[i] = i % 2;
        double sign = y[i] == 1 ? 1 : -1;
        for (int j = 0; j < Features; j++)
        {
            x[(i * Features) + j] = (float)(Normal(random) + (1.5 * sign * direction[j]));
        }
    }

    return (x, y);
}

static double Logit(float[] w, float[] x, int i)
{
    double z = w[Features];
    for (int j = 0; j < Features; j++)
    {
        z += w[j] * x[(i * Features) + j];
    }

    return z;
}

static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

static double Loss(float[] w, float[] x, float[] y)
{
    double total = 0;
    for (int i = 0; i < Examples; i++)
    {
        double p = Math.Clamp(Sigmoid(Logit(w, x, i)), 1e-12, 1 - 1e-12);
        total -= (y[i] * Math.Log(p)) + ((1 - y[i]) * Math.Log(1 - p));
    }

    return total / Examples;
}

static double Accuracy(float[] w, float[] x, float[] y)
{
    int correct = 0;
    for (int i = 0; i < Examples; i++)
    {
        correct += (Logit(w, x, i) > 0) == (y[i] == 1) ? 1 : 0;
    }

    return (double)correct / Examples;
}

static double Normal(Random random) =>
    Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

/// <summary>Adam in the lecture's form: running averages of length 10 and 1000 with 1/min(t, N) weights.</summary>
[Optimizer]
[FirstMoment(Length = 10)]
[SecondMoment(Length = 1000)]
[BiasCorrection(BiasCorrectionMode.MinT)]
[Epsilon(1e-8)]
internal sealed partial class LectureAdam;
