using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptGen.TorchSharp.Tests;

/// <summary>
/// The adapter itself: the step writes the tensors' own storage; any generated optimizer works (lecture forms, a
/// user's [Update] declaration) with the same bits as OptGen's own multi-tensor step; 16-bit parameters; skipping;
/// a warmed-up step allocates nothing; bad tensors and misuse are exceptions naming the parameter, with nothing changed.
/// </summary>
public sealed class BehaviourTests
{
    [Fact]
    public void TheStepWritesTheTensorsOwnStorage()
    {
        Parameter[] parameters = Fixture.MakeParameters();
        using Tensor view = parameters[0].view(-1);   // shares the parameter's storage
        float before = view[0].item<float>();
        using FusedOptimizer<OptGen.Sgd> optimizer = FusedOptimizer.Create(parameters, layout => new OptGen.Sgd(layout) { LearningRate = 0.5 });
        Fixture.SetGradients(parameters, Fixture.Gradients(parameters, 0));
        float gradient = parameters[0].grad!.view(-1)[0].item<float>();
        optimizer.step();
        Assert.Equal(before - (0.5f * gradient), view[0].item<float>(), 6);
    }

    public static TheoryData<string> Rules => new() { "AdamMinT", "MyLion", "NAdam" };

    /// <summary>
    /// Any generated optimizer: the TorchSharp adapter gives exactly the bits of the same OptGen rule stepped on
    /// copies of the tensors through its arena overload (one buffer with every tensor back to back).
    /// </summary>
    [Theory]
    [MemberData(nameof(Rules))]
    public void AnyGeneratedOptimizerGivesTheSameBitsAsOptGensOwnStep(string rule)
    {
        Func<ParameterLayout, Optimizer> create = rule switch
        {
            "AdamMinT" => layout => new AdamMinT(layout) { LearningRate = 1e-2 },
            "MyLion" => layout => new MyLion(layout) { LearningRate = 1e-3 },
            _ => layout => new NAdam(layout),
        };

        Parameter[] parameters = Fixture.MakeParameters();
        (Parameter[] a, Parameter[] b) = Fixture.Split(parameters);
        using var fused = FusedOptimizer.Create([new FusedParamGroup(a), new FusedParamGroup(b)], create);
        fused.Optimizer.Groups[1]["LearningRate"] = 2 * fused.Optimizer.Groups[0]["LearningRate"];

        Optimizer plain = create(fused.Optimizer.Layout);
        plain.Groups[1]["LearningRate"] = fused.Optimizer.Groups[1]["LearningRate"];
        float[] arena = parameters.SelectMany(Fixture.Values).ToArray();
        for (int step = 0; step < 5; step++)
        {
            Tensor[] gradients = Fixture.Gradients(parameters, step);
            Fixture.SetGradients(parameters, gradients);
            fused.step();
            plain.Step(arena, gradients.SelectMany(Fixture.Values).ToArray(), options: null);
        }

        Assert.Equal(arena, parameters.SelectMany(Fixture.Values).ToArray());
        Assert.Equal(5, fused.Optimizer.StepCount);
    }

    [Theory]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public void SixteenBitParametersStepWithOptGensSixteenBitKernel(ScalarType dtype)
    {
        Parameter[] parameters = Fixture.MakeParameters(dtype: dtype);
        using FusedOptimizer<OptGen.Adam> fused = FusedOptimizer.Create(parameters, layout => new OptGen.Adam(layout) { LearningRate = 1e-2 });
        var plain = new OptGen.Adam(fused.Optimizer.Layout) { LearningRate = 1e-2 };
        if (dtype == ScalarType.Float16)
        {
            StepBoth<Half>(parameters, fused, (p, g) => plain.Step(p, g));
        }
        else
        {
            StepBoth<BFloat16>(parameters, fused, (p, g) => plain.Step(p, g));
        }

        Assert.True(Fixture.MaxChange(Fixture.MakeParameters(dtype: dtype), parameters) > 0.01);
    }

    /// <summary>Five steps of <paramref name="fused"/> and of OptGen's per-tensor 16-bit overload on copies; the bits must agree.</summary>
    private static void StepBoth<T>(Parameter[] parameters, FusedOptimizer<OptGen.Adam> fused, Action<Memory<T>[], ReadOnlyMemory<T>[]> stepPlain)
        where T : unmanaged
    {
        T[][] copies = parameters.Select(p => MemoryMarshal.Cast<ushort, T>(Bits(p)).ToArray()).ToArray();
        for (int step = 0; step < 5; step++)
        {
            Tensor[] gradients = Fixture.Gradients(parameters, step);
            Fixture.SetGradients(parameters, gradients);
            fused.step();
            stepPlain(
                copies.Select(c => (Memory<T>)c).ToArray(),
                gradients.Select(g => (ReadOnlyMemory<T>)MemoryMarshal.Cast<ushort, T>(Bits(g)).ToArray()).ToArray());
        }

        Assert.Equal(copies.Select(c => MemoryMarshal.Cast<T, ushort>(c).ToArray()), parameters.Select(Bits));
    }

    [Fact]
    public void NonFiniteGradientsAreSkippedWithNothingWritten()
    {
        Parameter[] parameters = Fixture.MakeParameters();
        using FusedOptimizer<OptGen.Adam> optimizer = FusedOptimizer.Create(parameters, layout => new OptGen.Adam(layout));
        optimizer.Options = new StepOptions { SkipNonFinite = true };
        Tensor[] gradients = Fixture.Gradients(parameters, 0);
        gradients[3][1].fill_(float.NaN);
        Fixture.SetGradients(parameters, gradients);
        Parameter[] before = Fixture.Clone(parameters);
        optimizer.step();
        Assert.True(optimizer.LastResult.Skipped);
        Assert.True(optimizer.LastResult.FoundNonFinite);
        Assert.Equal(0, optimizer.Optimizer.StepCount);
        Fixture.AssertIdentical(before, parameters);
    }

    [Fact]
    public void AWarmedUpStepAllocatesNothing()
    {
        Parameter[] parameters = Fixture.MakeParameters();
        (Parameter[] a, Parameter[] b) = Fixture.Split(parameters);
        using var optimizer = FusedOptimizer.Create([new FusedParamGroup(a), new FusedParamGroup(b)], layout => new OptGen.AdamW(layout));
        optimizer.Optimizer.MaxDegreeOfParallelism = 1;
        optimizer.Options = new StepOptions { MaxGradientNorm = 10 };
        var scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 2, 0.5);
        Fixture.SetGradients(parameters, Fixture.Gradients(parameters, 0));
        for (int i = 0; i < 3; i++)
        {
            optimizer.step();
            scheduler.step();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        optimizer.step();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void TensorsTheStepCannotUseAreRejectedByName()
    {
        var contiguous = new Parameter(torch.randn(4, 3));
        var transposed = new Parameter(torch.randn(3, 4).t());
        ArgumentException e = Assert.Throws<ArgumentException>(() => FusedOptimizer.Create([("encoder.weight", contiguous), ("decoder.weight", transposed)], layout => new OptGen.Adam(layout)));
        Assert.Contains("'decoder.weight' is not contiguous", e.Message);

        var float64 = new Parameter(torch.randn(5, dtype: ScalarType.Float64));
        e = Assert.Throws<ArgumentException>(() => FusedOptimizer.Create([("head.bias", float64)], layout => new OptGen.Adam(layout)));
        Assert.Contains("'head.bias' is Float64", e.Message);

        var half = new Parameter(torch.randn(5, dtype: ScalarType.Float16));
        e = Assert.Throws<ArgumentException>(() => FusedOptimizer.Create([("a", contiguous), ("b", half)], layout => new OptGen.Adam(layout)));
        Assert.Contains("'b' is Float16", e.Message);

        e = Assert.Throws<ArgumentException>(() => FusedOptimizer.Create([("a", contiguous), ("again", contiguous)], layout => new OptGen.Adam(layout)));
        Assert.Contains("'again' appears more than once", e.Message);

        e = Assert.Throws<ArgumentException>(() => FusedOptimizer.Create([ParityTests.Group([contiguous], ("Momentum", 0.9))], layout => new OptGen.Adam(layout)));
        Assert.Contains("no hyperparameter 'Momentum'", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => FusedOptimizer.Create([ParityTests.Group([contiguous], ("Beta1", 1.5))], layout => new OptGen.Adam(layout)));
        Assert.Throws<ArgumentException>(() => FusedOptimizer.Create(Array.Empty<Parameter>(), layout => new OptGen.Adam(layout)));

        using var optimizer = FusedOptimizer.Create([contiguous], layout => new OptGen.Adam(layout));
        Assert.Throws<NotSupportedException>(() => optimizer.add_param_group(new FusedParamGroup([half])));
    }

    [Fact]
    public void MissingGradientsThrowOrSkipWithNothingChanged()
    {
        Parameter[] parameters = Fixture.MakeParameters();
        using var optimizer = FusedOptimizer.Create(parameters.Select((p, j) => ($"layer{j}", p)), layout => new OptGen.Adam(layout));
        Parameter[] before = Fixture.Clone(parameters);

        // No gradient anywhere: nothing to do, as in TorchSharp.
        optimizer.step();
        Assert.True(optimizer.LastResult.Skipped);
        Assert.Equal(0, optimizer.Optimizer.StepCount);

        // Some but not all: one step count cannot serve both.
        parameters[0].grad = torch.ones_like(parameters[0]);
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => optimizer.step());
        Assert.Contains("'layer1' has no gradient", e.Message);
        Assert.Equal(0, optimizer.Optimizer.StepCount);
        Fixture.AssertIdentical(before, parameters);

        // zero_grad keeps the gradients (TorchSharp's default) at zero.
        Fixture.SetGradients(parameters, Fixture.Gradients(parameters, 0));
        optimizer.zero_grad();
        Assert.All(parameters, p => Assert.Equal(0f, p.grad!.abs().max().item<float>()));
    }

    /// <summary>
    /// Two threads stepping one optimizer: every call either completes or throws InvalidOperationException (OptGen's
    /// busy flag), and the step count equals the completed calls: no lost or doubled step, no crash.
    /// </summary>
    [Fact]
    public void ConcurrentStepsAreRefusedNotCorrupting()
    {
        Parameter[] parameters = [new Parameter(torch.randn(300_000)), new Parameter(torch.randn(1000))];
        using var optimizer = FusedOptimizer.Create(parameters, layout => new OptGen.Adam(layout));
        Fixture.SetGradients(parameters, Fixture.Gradients(parameters, 0));
        int completed = 0, refused = 0;
        void Worker()
        {
            for (int i = 0; i < 200; i++)
            {
                try
                {
                    optimizer.step();
                    System.Threading.Interlocked.Increment(ref completed);
                }
                catch (InvalidOperationException)
                {
                    System.Threading.Interlocked.Increment(ref refused);
                }
            }
        }

        var threads = new[] { new System.Threading.Thread(Worker), new System.Threading.Thread(Worker) };
        foreach (var t in threads)
        {
            t.Start();
        }

        foreach (var t in threads)
        {
            t.Join();
        }

        Assert.Equal(400, completed + refused);
        Assert.Equal(completed, optimizer.Optimizer.StepCount);
    }

    private static ushort[] Bits(Tensor tensor) => MemoryMarshal.Cast<byte, ushort>(tensor.detach().contiguous().bytes).ToArray();
}

/// <summary>A user's declaration (Lion, written as [Update] expressions): the adapter takes any generated optimizer.</summary>
[Optimizer]
[Hyperparameter("LearningRate", 1e-4)]
[Hyperparameter("Beta1", 0.9)]
[Hyperparameter("Beta2", 0.99)]
[State("m")]
[Update("let c = lerp(m, g, 1 - Beta1)")]
[Update("p = p - LearningRate * sign(c)")]
[Update("m = lerp(m, g, 1 - Beta2)")]
public partial class MyLion;
