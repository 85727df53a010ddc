// A consumer of the OptGen package: two optimizers declared with attributes plus a built-in one, stepped on
// deterministic data. It prints every input and result as round-trip float32 text, one record a line:
//   p0 <name> <i> <value>        the initial parameters
//   g <name> <t> <i> <value>     the gradient of step t
//   p <name> <t> <i> <value>     the parameters after step t
// PackageTests parses the lines and checks the results against float64 references written from the formulas.

using System.Globalization;
using OptGen;

const int Length = 37;   // 32 + 4 + 1: a 256-bit block, a 128-bit block and a scalar tail on AVX2 machines
const int Steps = 6;

Run("PackagedAdamW", new PackagedAdamW(Length));
Run("PackagedNesterov", new PackagedNesterov(Length));
Run("Adam", new Adam(Length) { LearningRate = 0.01 });
return 0;

static void Run(string name, Optimizer optimizer)
{
    var parameters = new float[Length];
    var gradients = new float[Length];
    for (int i = 0; i < Length; i++)
    {
        parameters[i] = (float)(0.5 * Math.Sin((0.3 * i) + 0.1));
        Console.WriteLine(FormattableString.Invariant($"p0 {name} {i} {parameters[i]:R}"));
    }

    for (int t = 1; t <= Steps; t++)
    {
        for (int i = 0; i < Length; i++)
        {
            gradients[i] = (float)(Math.Cos((0.7 * i) + (1.3 * t)) + (0.05 * i));
            Console.WriteLine(FormattableString.Invariant($"g {name} {t} {i} {gradients[i]:R}"));
        }

        optimizer.Step(parameters, gradients);
        for (int i = 0; i < Length; i++)
        {
            Console.WriteLine(FormattableString.Invariant($"p {name} {t} {i} {parameters[i]:R}"));
        }
    }
}

/// <summary>AdamW declared by averaging lengths: β₁ = 1 − 1/10, β₂ = 1 − 1/1000, decoupled weight decay.</summary>
[Optimizer]
[LearningRate(0.01)]
[FirstMoment(Length = 10)]
[SecondMoment(Length = 1000)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
[WeightDecay(0.01, Decoupled = true)]
public partial class PackagedAdamW;

/// <summary>SGD with Nesterov momentum and L2 weight decay.</summary>
[Optimizer]
[LearningRate(0.05)]
[Momentum(0.9, Nesterov = true)]
[WeightDecay(1e-3)]
public partial class PackagedNesterov;
