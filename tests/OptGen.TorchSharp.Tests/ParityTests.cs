using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using TorchModules = TorchSharp.Modules;

namespace OptGen.TorchSharp.Tests;

/// <summary>
/// Each OptGen catalog optimizer behind <see cref="FusedOptimizer{TOptimizer}"/> against TorchSharp's own optimizer
/// of the same name (an independent implementation: libtorch tensor operations), on the same parameters and gradients
/// for 20 steps: two parameter groups with different hyperparameters, with and without a StepLR scheduler on both,
/// and with and without global-norm clipping (TorchSharp: <c>clip_grad_norm_</c> then its step; OptGen:
/// <see cref="StepOptions.MaxGradientNorm"/> inside the fused step). The parameters must agree within float32
/// rounding: |Δ| ≤ 2e-6·max(1, |p|) (worst measured 3.4e-7) after 20 steps (the parameters move by O(0.1–1), so a wrong hyperparameter, group,
/// schedule or clip factor is off by orders of magnitude more).
/// </summary>
public sealed class ParityTests(ITestOutputHelper output)
{
    private const int Steps = 20;
    private const double Tolerance = 2e-6;
    private const double MaxNorm = 40;

    public static TheoryData<bool, bool> Modes => new() { { false, false }, { true, false }, { false, true }, { true, true } };

    [Theory]
    [MemberData(nameof(Modes))]
    public void Adam(bool clip, bool schedule) => Run(
        "Adam",
        (a, b) => torch.optim.Adam([new TorchModules.Adam.ParamGroup(a, lr: 1e-2, weight_decay: 0.01), new TorchModules.Adam.ParamGroup(b, lr: 3e-2, beta1: 0.8, eps: 1e-6)]),
        (a, b) => FusedOptimizer.Create(
            [Group(a, ("LearningRate", 1e-2), ("WeightDecay", 0.01)), Group(b, ("LearningRate", 3e-2), ("Beta1", 0.8), ("Epsilon", 1e-6))],
            layout => new OptGen.Adam(layout)),
        clip,
        schedule);

    [Theory]
    [MemberData(nameof(Modes))]
    public void AdamW(bool clip, bool schedule) => Run(
        "AdamW",
        (a, b) => torch.optim.AdamW([new TorchModules.AdamW.ParamGroup(a, lr: 1e-2, weight_decay: 0.1), new TorchModules.AdamW.ParamGroup(b, lr: 2e-2, beta2: 0.99, weight_decay: 0)]),
        (a, b) => FusedOptimizer.Create(
            [Group(a, ("LearningRate", 1e-2), ("WeightDecay", 0.1)), Group(b, ("LearningRate", 2e-2), ("Beta2", 0.99), ("WeightDecay", 0))],
            layout => new OptGen.AdamW(layout)),
        clip,
        schedule);

    [Theory]
    [MemberData(nameof(Modes))]
    public void SgdMomentum(bool clip, bool schedule) => Run(
        "SGD(momentum)",
        (a, b) => torch.optim.SGD([new TorchModules.SGD.ParamGroup(a, lr: 1e-2, momentum: 0.9, dampening: 0.1, weight_decay: 0.01), new TorchModules.SGD.ParamGroup(b, lr: 2e-2, momentum: 0.5)], 1e-2),
        (a, b) => FusedOptimizer.Create(
            [Group(a, ("LearningRate", 1e-2), ("Momentum", 0.9), ("Dampening", 0.1), ("WeightDecay", 0.01)), Group(b, ("LearningRate", 2e-2), ("Momentum", 0.5))],
            layout => new OptGen.SgdMomentum(layout)),
        clip,
        schedule);

    [Theory]
    [MemberData(nameof(Modes))]
    public void SgdNesterov(bool clip, bool schedule) => Run(
        "SGD(nesterov)",
        (a, b) => torch.optim.SGD([new TorchModules.SGD.ParamGroup(a, lr: 1e-2, momentum: 0.9, weight_decay: 0.01, nesterov: true), new TorchModules.SGD.ParamGroup(b, lr: 2e-2, momentum: 0.7, nesterov: true)], 1e-2),
        (a, b) => FusedOptimizer.Create(
            [Group(a, ("LearningRate", 1e-2), ("Momentum", 0.9), ("WeightDecay", 0.01)), Group(b, ("LearningRate", 2e-2), ("Momentum", 0.7))],
            layout => new OptGen.SgdNesterov(layout)),
        clip,
        schedule);

    [Theory]
    [MemberData(nameof(Modes))]
    public void RmsProp(bool clip, bool schedule) => Run(
        "RMSprop",
        (a, b) => torch.optim.RMSProp([new TorchModules.RMSProp.ParamGroup(a, lr: 1e-2, alpha: 0.9, weight_decay: 0.01), new TorchModules.RMSProp.ParamGroup(b, lr: 3e-3, eps: 1e-6)]),
        (a, b) => FusedOptimizer.Create(
            [Group(a, ("LearningRate", 1e-2), ("Alpha", 0.9), ("WeightDecay", 0.01)), Group(b, ("LearningRate", 3e-3), ("Epsilon", 1e-6))],
            layout => new OptGen.RmsProp(layout)),
        clip,
        schedule);

    [Theory]
    [MemberData(nameof(Modes))]
    public void Adagrad(bool clip, bool schedule) => Run(
        "Adagrad",
        (a, b) => torch.optim.Adagrad([new TorchModules.Adagrad.ParamGroup(a, lr: 5e-2, lr_decay: 0.01, weight_decay: 0.01), new TorchModules.Adagrad.ParamGroup(b, lr: 1e-1, eps: 1e-8)]),
        (a, b) => FusedOptimizer.Create(
            [Group(a, ("LearningRate", 5e-2), ("LearningRateDecay", 0.01), ("WeightDecay", 0.01)), Group(b, ("LearningRate", 1e-1), ("Epsilon", 1e-8))],
            layout => new OptGen.Adagrad(layout)),
        clip,
        schedule);

    /// <summary>Other schedulers drive the groups' learning rates the same way (CosineAnnealingLR, LinearLR warm-up; with clipping).</summary>
    [Theory]
    [InlineData("cosine")]
    [InlineData("linear")]
    public void AdamWithOtherSchedulers(string scheduler) => Run(
        "Adam",
        (a, b) => torch.optim.Adam([new TorchModules.Adam.ParamGroup(a, lr: 1e-2, weight_decay: 0.01), new TorchModules.Adam.ParamGroup(b, lr: 3e-2, beta1: 0.8, eps: 1e-6)]),
        (a, b) => FusedOptimizer.Create(
            [Group(a, ("LearningRate", 1e-2), ("WeightDecay", 0.01)), Group(b, ("LearningRate", 3e-2), ("Beta1", 0.8), ("Epsilon", 1e-6))],
            layout => new OptGen.Adam(layout)),
        clip: true,
        schedule: true,
        scheduler == "cosine"
            ? o => torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max: 12, eta_min: 1e-4)
            : o => torch.optim.lr_scheduler.LinearLR(o, start_factor: 0.1, end_factor: 1.0, total_iters: 8));

    /// <summary>
    /// Schedulers that cycle momentum (<c>cycle_momentum</c>) drive the rule's β₁ through <see cref="torch.optim.IBetas"/>
    /// (OneCycleLR on Adam and AdamW, as on TorchSharp's) and its momentum through <see cref="torch.optim.IMomentum"/>
    /// (OneCycleLR and CyclicLR on SGD with momentum and Nesterov momentum), per group, with clipping: the same
    /// parameters, learning rates and momenta as TorchSharp's optimizer with the same scheduler.
    /// </summary>
    [Theory]
    [InlineData("Adam")]
    [InlineData("AdamW")]
    [InlineData("SGD(momentum)")]
    [InlineData("SGD(nesterov)")]
    public void MomentumCyclingSchedulers(string name)
    {
        Func<torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler> oneCycle =
            o => torch.optim.lr_scheduler.OneCycleLR(o, max_lr: [5e-2, 2e-2], total_steps: 25, base_momentum: [0.8, 0.7], max_momentum: [0.95, 0.9]);
        Func<torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler> cyclic =
            o => torch.optim.lr_scheduler.CyclicLR(o, base_lr: [1e-3, 2e-3], max_lr: [3e-2, 2e-2], step_size_up: 4, base_momentum: [0.8, 0.7], max_momentum: [0.85, 0.8]);
        switch (name)
        {
            case "Adam":
                Run(
                    name,
                    (a, b) => torch.optim.Adam([new TorchModules.Adam.ParamGroup(a, lr: 1e-2, weight_decay: 0.01), new TorchModules.Adam.ParamGroup(b, lr: 3e-2, beta2: 0.99, eps: 1e-6)]),
                    (a, b) => FusedOptimizer.Create(
                        [Group(a, ("LearningRate", 1e-2), ("WeightDecay", 0.01)), Group(b, ("LearningRate", 3e-2), ("Beta2", 0.99), ("Epsilon", 1e-6))],
                        layout => new OptGen.Adam(layout)),
                    clip: true,
                    schedule: true,
                    oneCycle,
                    momentum: true);
                break;
            case "AdamW":
                Run(
                    name,
                    (a, b) => torch.optim.AdamW([new TorchModules.AdamW.ParamGroup(a, lr: 1e-2, weight_decay: 0.1), new TorchModules.AdamW.ParamGroup(b, lr: 2e-2, weight_decay: 0)]),
                    (a, b) => FusedOptimizer.Create(
                        [Group(a, ("LearningRate", 1e-2), ("WeightDecay", 0.1)), Group(b, ("LearningRate", 2e-2), ("WeightDecay", 0))],
                        layout => new OptGen.AdamW(layout)),
                    clip: false,
                    schedule: true,
                    oneCycle,
                    momentum: true);
                break;
            case "SGD(momentum)":
                foreach (var scheduler in new[] { oneCycle, cyclic })
                {
                    Run(
                        name,
                        (a, b) => torch.optim.SGD([new TorchModules.SGD.ParamGroup(a, lr: 1e-2, momentum: 0.9, dampening: 0.1, weight_decay: 0.01), new TorchModules.SGD.ParamGroup(b, lr: 2e-2, momentum: 0.5)], 1e-2),
                        (a, b) => FusedOptimizer.Create(
                            [Group(a, ("LearningRate", 1e-2), ("Momentum", 0.9), ("Dampening", 0.1), ("WeightDecay", 0.01)), Group(b, ("LearningRate", 2e-2), ("Momentum", 0.5))],
                            layout => new OptGen.SgdMomentum(layout)),
                        clip: true,
                        schedule: true,
                        scheduler,
                        momentum: true);
                }

                break;
            default:
                foreach (var scheduler in new[] { oneCycle, cyclic })
                {
                    Run(
                        name,
                        (a, b) => torch.optim.SGD([new TorchModules.SGD.ParamGroup(a, lr: 1e-2, momentum: 0.9, weight_decay: 0.01, nesterov: true), new TorchModules.SGD.ParamGroup(b, lr: 2e-2, momentum: 0.7, nesterov: true)], 1e-2),
                        (a, b) => FusedOptimizer.Create(
                            [Group(a, ("LearningRate", 1e-2), ("Momentum", 0.9), ("WeightDecay", 0.01)), Group(b, ("LearningRate", 2e-2), ("Momentum", 0.7))],
                            layout => new OptGen.SgdNesterov(layout)),
                        clip: false,
                        schedule: true,
                        scheduler,
                        momentum: true);
                }

                break;
        }
    }

    internal static FusedParamGroup Group(Parameter[] parameters, params (string Name, double Value)[] values)
    {
        var dictionary = new Dictionary<string, double>();
        foreach ((string name, double value) in values)
        {
            dictionary[name] = value;
        }

        return new FusedParamGroup(parameters, dictionary);
    }

    private void Run<TOptimizer>(
        string name,
        Func<Parameter[], Parameter[], torch.optim.Optimizer> createTorch,
        Func<Parameter[], Parameter[], FusedOptimizer<TOptimizer>> createFused,
        bool clip,
        bool schedule,
        Func<torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler>? createScheduler = null,
        bool momentum = false)
        where TOptimizer : Optimizer
    {
        createScheduler ??= o => torch.optim.lr_scheduler.StepLR(o, 5, 0.5);
        Parameter[] reference = Fixture.MakeParameters();
        Parameter[] initial = Fixture.Clone(reference);
        Parameter[] fused = Fixture.Clone(reference);
        (Parameter[] r0, Parameter[] r1) = Fixture.Split(reference);
        (Parameter[] f0, Parameter[] f1) = Fixture.Split(fused);

        using torch.optim.Optimizer torchOptimizer = createTorch(r0, r1);
        using FusedOptimizer<TOptimizer> optimizer = createFused(f0, f1);
        optimizer.Optimizer.MaxDegreeOfParallelism = 1;
        if (clip)
        {
            optimizer.Options = new StepOptions { MaxGradientNorm = MaxNorm };
        }

        torch.optim.lr_scheduler.LRScheduler? torchScheduler = schedule ? createScheduler(torchOptimizer) : null;
        torch.optim.lr_scheduler.LRScheduler? fusedScheduler = schedule ? createScheduler(optimizer) : null;
        int clipped = 0;
        for (int step = 0; step < Steps; step++)
        {
            Tensor[] gradients = Fixture.Gradients(reference, step);
            Fixture.SetGradients(reference, gradients);
            Fixture.SetGradients(fused, gradients);
            if (clip)
            {
                torch.nn.utils.clip_grad_norm_(reference, MaxNorm);
            }

            torchOptimizer.step();
            optimizer.step();
            torchScheduler?.step();
            fusedScheduler?.step();
            clipped += optimizer.LastResult.ClipFactor < 1 ? 1 : 0;
            foreach (Tensor g in gradients)
            {
                g.Dispose();
            }
        }

        Assert.Equal(Steps, optimizer.Optimizer.StepCount);
        Assert.Equal(clip ? Steps : 0, clipped);
        if (schedule)
        {
            // The scheduled rates after 20 steps agree, read back through the groups.
            Assert.Equal(torchOptimizer.ParamGroups, optimizer.ParamGroups, (x, y) => Math.Abs(x.LearningRate - y.LearningRate) <= 1e-15 * x.LearningRate);
        }

        if (momentum)
        {
            // The cycled momenta after 20 steps agree too (TorchSharp's Adam groups are IBetas, its SGD groups IMomentum),
            // and they are what OptGen's groups hold.
            foreach ((torch.optim.ILearningRateController expected, torch.optim.ILearningRateController actual) in torchOptimizer.ParamGroups.Zip(optimizer.ParamGroups))
            {
                double value = expected is torch.optim.IBetas betas ? betas.Betas.Item1 : ((torch.optim.IMomentum)expected).Momentum;
                Assert.Equal(value, ((torch.optim.IMomentum)actual).Momentum, 1e-15);
                if (expected is torch.optim.IBetas torchBetas)
                {
                    (double beta1, double beta2) = ((torch.optim.IBetas)actual).Betas;
                    Assert.Equal(torchBetas.Betas.Item1, beta1, 1e-15);
                    Assert.Equal(torchBetas.Betas.Item2, beta2, 1e-15);
                }
            }

            string hyperparameter = optimizer.Optimizer.Descriptor.IndexOfHyperparameter("Momentum") >= 0 ? "Momentum" : "Beta1";
            Assert.Equal(optimizer.ParamGroups.Select(g => ((torch.optim.IMomentum)g).Momentum), optimizer.Optimizer.Groups.Select(g => g[hyperparameter]));
            Assert.NotEqual(optimizer.Optimizer.Groups[0][hyperparameter], optimizer.Optimizer.Groups[1][hyperparameter]);
        }

        Assert.True(Fixture.MaxChange(initial, reference) > 0.02, "The reference run barely moved the parameters; the comparison would prove nothing.");
        double worst = Fixture.AssertClose(reference, fused, Tolerance, name);
        output.WriteLine($"{name} clip={clip} schedule={schedule}: worst scaled difference {worst:E2} after {Steps} steps");
    }
}
