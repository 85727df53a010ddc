using System;

namespace OptGen;

/// <summary>
/// One parameter group of an optimizer: a run of tensors that share hyperparameter values (as a
/// <c>torch.optim</c> param group). Obtained from <see cref="Optimizer.Groups"/>.
/// </summary>
public sealed class ParameterGroup
{
    private readonly Optimizer _owner;

    internal ParameterGroup(Optimizer owner, int index)
    {
        _owner = owner;
        Index = index;
    }

    /// <summary>The group's index in <see cref="Optimizer.Groups"/>.</summary>
    public int Index { get; }

    /// <summary>The index (in <see cref="ParameterLayout"/> order) of the group's first tensor.</summary>
    public int FirstTensor => _owner.Layout.FirstTensorOf(Index);

    /// <summary>The number of tensors in the group.</summary>
    public int TensorCount => _owner.Layout.TensorCountOf(Index);

    /// <summary>Gets or sets one of this group's hyperparameters by its property name (e.g. <c>"WeightDecay"</c>).</summary>
    /// <exception cref="ArgumentException">The rule has no such hyperparameter.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The value is out of the hyperparameter's range; the group keeps its value.</exception>
    public double this[string hyperparameter]
    {
        get => _owner.GetGroupHyperparameter(Index, hyperparameter);
        set => _owner.SetGroupHyperparameter(Index, hyperparameter, value);
    }

    /// <summary>
    /// Drives one of this group's hyperparameters by <paramref name="schedule"/>: before each step the value becomes
    /// <c>schedule.ValueAt(StepCount)</c>, overriding for this group a schedule set on the optimizer for every group.
    /// Pass null to remove this group's own schedule.
    /// </summary>
    /// <exception cref="ArgumentException">The rule has no such hyperparameter.</exception>
    public void SetSchedule(string hyperparameter, Schedule? schedule) => _owner.SetSchedule(Index, hyperparameter, schedule);
}
