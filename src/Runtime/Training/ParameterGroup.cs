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
    /// This group's own state precision, or null (the default) when it follows the optimizer's
    /// (<see cref="Optimizer.StatePrecision"/>). Setting it converts the group's state at once, in any direction, and
    /// leaves every other group's state bit for bit as it was (see <see cref="Optimizer.ChangeStatePrecision(OptGen.StatePrecision)"/>);
    /// a group with its own precision keeps it when the optimizer's changes. Keep an embedding's state in float32 in
    /// an 8-bit optimizer (bitsandbytes' <c>override_config(..., "optim_bits", 32)</c>) by putting it in its own group
    /// and setting this to <see cref="OptGen.StatePrecision.Float32"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined <see cref="OptGen.StatePrecision"/>; nothing was changed.</exception>
    /// <exception cref="NotSupportedException">The rule cannot store this group's state so (see <see cref="Optimizer.ChangeStatePrecision(OptGen.StatePrecision)"/>); nothing was changed.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the optimizer; nothing was changed.</exception>
    public StatePrecision? StatePrecision
    {
        get => _owner.OwnStatePrecisionOf(Index);
        set => _owner.ChangeGroupStatePrecision(Index, value);
    }

    /// <summary>How this group's state is stored: its own <see cref="StatePrecision"/>, or the optimizer's.</summary>
    public OptGen.StatePrecision EffectiveStatePrecision => _owner.StatePrecisionOf(Index);

    /// <summary>
    /// Drives one of this group's hyperparameters by <paramref name="schedule"/>: before each step the value becomes
    /// <c>schedule.ValueAt(StepCount)</c>, overriding for this group a schedule set on the optimizer for every group.
    /// Pass null to remove this group's own schedule.
    /// </summary>
    /// <exception cref="ArgumentException">The rule has no such hyperparameter.</exception>
    public void SetSchedule(string hyperparameter, Schedule? schedule) => _owner.SetSchedule(Index, hyperparameter, schedule);
}
