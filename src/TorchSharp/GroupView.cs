using System;
using static TorchSharp.torch.optim;

namespace OptGen.TorchSharp;

/// <summary>
/// What TorchSharp's learning-rate schedulers see of one parameter group (<c>optimizer.ParamGroups</c>): its learning
/// rates (<see cref="ILearningRateController"/>) and the momentum that <c>OneCycleLR</c> and <c>CyclicLR</c> cycle
/// with <c>cycle_momentum</c> (<see cref="IMomentum"/>; <see cref="IBetas"/> where the rule has β₁ and β₂, which
/// <c>OneCycleLR</c> prefers, as for TorchSharp's Adam). Each reads and writes the OptGen group through
/// <see cref="FusedOptions"/>, so a value set here is the one the next step uses.
/// </summary>
/// <remarks>
/// TorchSharp's schedulers decide what to cycle by the interfaces a group implements, so which one a group gets depends
/// on the rule: <see cref="For"/> picks it. Every group implements <see cref="IMomentum"/>, so a rule without a
/// momentum hyperparameter gives a clear <see cref="NotSupportedException"/> instead of the scheduler's null reference.
/// </remarks>
internal class GroupView(FusedParamGroup group, string rule, string? momentum) : ILearningRateController, IMomentum
{
    private const string Beta1 = "Beta1";
    private const string Beta2 = "Beta2";

    /// <summary>The user's group (its options hold the values).</summary>
    public FusedParamGroup Group { get; } = group;

    public double LearningRate
    {
        get => Group.LearningRate;
        set => Group.LearningRate = value;
    }

    public double InitialLearningRate
    {
        get => Group.InitialLearningRate;
        set => Group.InitialLearningRate = value;
    }

    /// <summary>The rule's <c>Momentum</c> (SGD-like rules), else its β₁ (Adam-like rules: PyTorch's CyclicLR cycles β₁ there too).</summary>
    /// <exception cref="NotSupportedException">The rule has neither.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The value is outside the hyperparameter's range; nothing is set.</exception>
    public double Momentum
    {
        get => Group.Options[momentum ?? throw NoMomentum()];
        set => Group.Options[momentum ?? throw NoMomentum()] = value;
    }

    /// <summary>The view of <paramref name="group"/> for <paramref name="descriptor"/>'s rule.</summary>
    public static GroupView For(FusedParamGroup group, OptimizerDescriptor descriptor)
    {
        string? momentum = MomentumOf(descriptor);
        return descriptor.IndexOfHyperparameter(Beta1) >= 0 && descriptor.IndexOfHyperparameter(Beta2) >= 0
            ? new BetasView(group, descriptor.Name, momentum)
            : new GroupView(group, descriptor.Name, momentum);
    }

    /// <summary>The hyperparameter <see cref="IMomentum"/> maps to: <c>Momentum</c>, else <c>Beta1</c>, else none.</summary>
    public static string? MomentumOf(OptimizerDescriptor descriptor) =>
        descriptor.IndexOfHyperparameter("Momentum") >= 0 ? "Momentum"
        : descriptor.IndexOfHyperparameter(Beta1) >= 0 ? Beta1
        : null;

    /// <summary>The exception for a rule without a momentum hyperparameter.</summary>
    public static NotSupportedException NoMomentum(string rule) => new(
        $"The rule '{rule}' has no Momentum or Beta1 hyperparameter, so a scheduler cannot cycle its momentum: create the scheduler with cycle_momentum: false (or put an OptGen Schedule on one of the rule's own hyperparameters). Nothing was changed.");

    private NotSupportedException NoMomentum() => NoMomentum(rule);

    /// <summary>A group of a rule with β₁ and β₂ (Adam-like): <see cref="IBetas"/> as TorchSharp's Adam.</summary>
    private sealed class BetasView(FusedParamGroup group, string rule, string? momentum) : GroupView(group, rule, momentum), IBetas
    {
        /// <summary>(β₁, β₂); setting checks both before it sets either.</summary>
        /// <exception cref="ArgumentOutOfRangeException">A value is outside its range; nothing is set.</exception>
        public (double, double) Betas
        {
            get => (Group.Options[Beta1], Group.Options[Beta2]);
            set => Group.Options.Set((Beta1, value.Item1), (Beta2, value.Item2));
        }
    }
}
