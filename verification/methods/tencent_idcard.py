"""`tencent_idcard`: the lip-code video of `tencent_lip`, judged by
`idcardlivedetectfour` against the ID photo that the public security
registry holds for the name and ID number."""

from django.utils.translation import gettext_lazy as _

from .tencent_lip import TencentLip


class TencentIdcard(TencentLip):
    name = "tencent_idcard"
    label = _("Tencent lip-code video with ID check")
    needs_identity = True
    accepts_reference_photo = False

    def _detect(self, client, session, submission, media_path):
        return client.detect_idcard_lip_video(
            validate_data=submission.challenge_value, video=media_path,
            idcard_number=session.idcard, idcard_name=session.realname, seq=str(session.pk),
        )
