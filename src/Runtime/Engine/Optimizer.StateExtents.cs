using System;
using OptGen.Engine;

namespace OptGen;

/// <summary>
/// Compact state: a rule whose state is not one value per parameter (Adafactor's m + n row and column factors of an
/// m × n matrix, Adam-mini's one second moment per block) says how long each tensor's extent of each state buffer is
/// (<see cref="StateLengthOf"/>); the state planes then hold exactly those extents (<see cref="StateExtents"/>), and
/// everything that touches the state (steps, Reset, checkpoints, precision changes, reads) walks them.
/// </summary>
public abstract partial class Optimizer
{
    /// <summary>Whether some state buffer is compact (<see cref="IsCompact"/>).</summary>
    private protected bool HasCompactState
    {
        get
        {
            for (int k = 0; k < Descriptor.States.Count; k++)
            {
                if (IsCompact(k))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// Whether state buffer <paramref name="plane"/> is compact: not one value per parameter in some tensor (the rule
    /// says how many in <see cref="StateLengthOf"/>). Blockwise state keeps a compact buffer in float32 and quantizes
    /// only the buffers that are one value per parameter.
    /// </summary>
    private protected virtual bool IsCompact(int plane) => false;

    /// <summary>
    /// The elements of state buffer <paramref name="plane"/> that tensor <paramref name="tensor"/> needs when its
    /// group's hyperparameters are <paramref name="hyperparameters"/>: its length unless the rule has compact state.
    /// Called from the base constructor: may read only <see cref="Layout"/> and the arguments.
    /// </summary>
    private protected virtual int StateLengthOf(int plane, int tensor, ReadOnlySpan<double> hyperparameters) => Layout.LengthOf(tensor);

    /// <summary>
    /// The elements of tensor <paramref name="tensor"/>'s part of state buffer <paramref name="name"/>: the tensor's
    /// length, or, for compact state, the rule's count (Adafactor: m and n of an m × n matrix; Adam-mini: one per
    /// block). <see cref="CopyState"/> and <see cref="GetState(string, int)"/> hand out this many values.
    /// </summary>
    /// <exception cref="ArgumentException">The rule has no such state buffer.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tensor"/> is not a tensor of <see cref="Layout"/>.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the optimizer.</exception>
    public int StateLength(string name, int tensor)
    {
        int index = StateIndexOf(name, tensor);

        using StepGuard guard = EnterGuard(nameof(StateLength));
        return StoredLengthOf(index, tensor);
    }

    /// <summary>New, zeroed state of <paramref name="elementSize"/>-byte elements, shaped for the groups' hyperparameters <paramref name="groups"/>.</summary>
    private StateStorage NewState(double[][] groups, int elementSize) => HasCompactState
        ? new StateStorage(ExtentsFor(groups), elementSize)
        : new StateStorage(Descriptor.States.Count, Layout.StateLength, elementSize);

    /// <summary>The extents the groups' hyperparameters <paramref name="groups"/> give each tensor in each state buffer (a rule with compact state).</summary>
    private StateExtents ExtentsFor(double[][] groups)
    {
        int[][] lengths = new int[Descriptor.States.Count][];
        for (int k = 0; k < lengths.Length; k++)
        {
            lengths[k] = new int[Layout.TensorCount];
            for (int j = 0; j < Layout.TensorCount; j++)
            {
                lengths[k][j] = StateLengthOf(k, j, groups[Layout.GroupOf(j)]);
            }
        }

        return new StateExtents(lengths);
    }

    /// <summary>Whether <paramref name="state"/>'s extents are those of the hyperparameters of <paramref name="plan"/> (or the stored ones when null); allocates nothing.</summary>
    private bool StateFits(StateView state, StepPlan? plan)
    {
        if (!HasCompactState)
        {
            return true;
        }

        for (int k = 0; k < Descriptor.States.Count; k++)
        {
            for (int j = 0; j < Layout.TensorCount; j++)
            {
                int group = Layout.GroupOf(j);
                ReadOnlySpan<double> h = plan is null ? _groupHyperparameters[group] : plan.Hyperparameters(group);
                if (state.LengthOf(k, j) != StateLengthOf(k, j, h))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>Reshapes compact state to the stored hyperparameters (a device backend, before it copies the state); inside the guard.</summary>
    internal void FitStateToHyperparameters() => FitState(null);

    /// <summary>
    /// Reshapes compact state to the extents the hyperparameters of <paramref name="plan"/> (or the stored ones) ask
    /// for, when they changed (Adam-mini's BlockSize): an extent of unchanged length keeps its values (codes and
    /// absmax, or float values, bit for bit), another starts again from the initial value. Nothing is changed on
    /// failure (the new state is built first).
    /// </summary>
    private protected void FitState(StepPlan? plan)
    {
        StateView source = StateView;
        if (StateFits(source, plan))
        {
            return;
        }

        double[][] groups = _groupHyperparameters;
        if (plan is not null)
        {
            groups = new double[Layout.GroupCount][];
            for (int g = 0; g < groups.Length; g++)
            {
                groups[g] = plan.Hyperparameters(g).ToArray();
            }
        }

        StateView target;
        if (_blockwise is null)
        {
            StateStorage fitted = NewState(groups, _state.ElementSize);
            InitializeState(fitted);
            target = new StateView(fitted, null, Layout);
        }
        else
        {
            target = new StateView(_state, InitializedBlockwise(ExtentsFor(groups)), Layout);
        }

        for (int k = 0; k < Descriptor.States.Count; k++)
        {
            for (int j = 0; j < Layout.TensorCount; j++)
            {
                if (target.LengthOf(k, j) == source.LengthOf(k, j))
                {
                    source.CopyTo(target, k, j);
                }
            }
        }

        _state = target.State;
        _blockwise = target.Blockwise;
    }
}
