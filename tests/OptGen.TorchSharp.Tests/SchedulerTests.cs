using System;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptGen.TorchSharp.Tests;

/// <summary>
/// The momentum interfaces TorchSharp's schedulers use (<see cref="torch.optim.IMomentum"/>, <see cref="torch.optim.IBetas"/>)
/// where the rule has no such hyperparameter, or the value is out of range: a clear exception, nothing changed. (The
/// cases that work are compared with TorchSharp's optimizers in <see cref="ParityTests.MomentumCyclingSchedulers"/>.)
/// </summary>
public sealed class SchedulerTests
{
    private static FusedOptimizer<TOptimizer> TwoGroups<TOptimizer>(Func<ParameterLayout, TOptimizer> create)
        where TOptimizer : Optimizer
    {
        (Parameter[] a, Parameter[] b) = Fixture.Split(Fixture.MakeParameters());
        return FusedOptimizer.Create([ParityTests.Group(a, ("LearningRate", 1e-2)), ParityTests.Group(b, ("LearningRate", 3e-2))], create);
    }

    private static double[][] Hyperparameters(Optimizer optimizer) =>
        optimizer.Groups.Select(g => optimizer.Descriptor.Hyperparameters.Select(h => g[h.Name]).ToArray()).ToArray();

    [Fact]
    public void CyclingMomentumOfARuleWithoutOneIsRefusedWithNothingChanged()
    {
        using FusedOptimizer<OptGen.Adagrad> optimizer = TwoGroups(layout => new OptGen.Adagrad(layout));
        double[][] before = Hyperparameters(optimizer.Optimizer);
        double[] rates = optimizer.ParamGroups.Select(g => g.LearningRate).ToArray();

        var e = Assert.Throws<NotSupportedException>(() => torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr: 0.1, total_steps: 10));
        Assert.Contains("'torch.optim.Adagrad' has no Momentum or Beta1", e.Message);
        Assert.Contains("cycle_momentum: false", e.Message);
        Assert.Equal(before, Hyperparameters(optimizer.Optimizer));
        Assert.Equal(rates, optimizer.ParamGroups.Select(g => g.LearningRate));

        // CyclicLR sets the learning rates before it asks for momentum (TorchSharp's order, as with its own
        // optimizers); they reach OptGen's groups only at a step, so the rule's hyperparameters are unchanged.
        Assert.Throws<NotSupportedException>(() => torch.optim.lr_scheduler.CyclicLR(optimizer, base_lr: 1e-3, max_lr: 1e-2));
        Assert.Equal(before, Hyperparameters(optimizer.Optimizer));
        Assert.Throws<NotSupportedException>(() => optimizer.Momentum);
        Assert.Throws<NotSupportedException>(() => optimizer.Momentum = 0.9);
        Assert.Throws<NotSupportedException>(() => optimizer.Betas);

        // Without cycle_momentum it schedules the learning rate as before.
        torch.optim.lr_scheduler.LRScheduler scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr: 0.1, total_steps: 10, cycle_momentum: false);
        Assert.Equal(0.1 / 25, optimizer.ParamGroups.First().LearningRate, 1e-15);
        Assert.Equal(before, Hyperparameters(optimizer.Optimizer));
    }

    [Fact]
    public void MomentumMapsToTheRulesHyperparameterAndChecksRangesFirst()
    {
        using FusedOptimizer<OptGen.Adam> adam = TwoGroups(layout => new OptGen.Adam(layout));
        var groups = adam.ParamGroups.ToArray();
        Assert.All(groups, g => Assert.IsAssignableFrom<torch.optim.IBetas>(g));

        // IMomentum on an Adam-like rule is β₁ (PyTorch's CyclicLR cycles β₁ there; TorchSharp's Adam is not IMomentum).
        ((torch.optim.IMomentum)groups[1]).Momentum = 0.7;
        Assert.Equal([0.9, 0.7], adam.Optimizer.Groups.Select(g => g["Beta1"]));
        ((torch.optim.IBetas)groups[0]).Betas = (0.8, 0.99);
        Assert.Equal((0.8, 0.99), (adam.Optimizer.Groups[0]["Beta1"], adam.Optimizer.Groups[0]["Beta2"]));

        // Both betas are checked before either is set, in a group and across groups.
        double[][] before = Hyperparameters(adam.Optimizer);
        Assert.Throws<ArgumentOutOfRangeException>(() => ((torch.optim.IBetas)groups[0]).Betas = (0.5, 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => adam.Betas = (0.5, 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => adam.Momentum = -0.1);
        Assert.Equal(before, Hyperparameters(adam.Optimizer));

        // The optimizer-level values: the first group's; setting them sets every group's.
        adam.Betas = (0.6, 0.95);
        Assert.Equal((0.6, 0.95), adam.Betas);
        Assert.All(adam.Optimizer.Groups, g => Assert.Equal((0.6, 0.95), (g["Beta1"], g["Beta2"])));

        // An SGD-like rule: IMomentum is its Momentum, and it has no betas (OneCycleLR then cycles the momentum).
        using FusedOptimizer<OptGen.SgdMomentum> sgd = TwoGroups(layout => new OptGen.SgdMomentum(layout));
        Assert.All(sgd.ParamGroups, g => Assert.IsNotAssignableFrom<torch.optim.IBetas>(g));
        sgd.Momentum = 0.5;
        Assert.All(sgd.Optimizer.Groups, g => Assert.Equal(0.5, g["Momentum"]));
        Assert.Throws<NotSupportedException>(() => sgd.Betas = (0.9, 0.999));
        Assert.Same(sgd.Groups[1], sgd.Groups[1]);
    }
}
